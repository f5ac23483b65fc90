"""A driver on the two-node test cluster, run in a process of its own by test_two_nodes.

``python two_nodes_driver.py WORKSPACE ADDRESS CONTROL_FILE`` joins the cluster as the app
does (``cluster.head.connect``), places a project's trainer and segmenter on the worker
node by resource, trains one epoch from annotations sent through Ray, segments one image
with the model it received, ends the actors, then asks the worker node to open
``CONTROL_FILE`` (a file of the workspace: the guard must refuse it). It prints what it
saw as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    AnnotatedImage,
    Placement,
    SegmentationRequest,
    TrainingConfig,
)
from cluster.backends.ray_backend import RayBackend
from cluster.head.connect import connect, disconnect
from cluster.head.placement import free_resources
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.simulate.synthetic import generate_root_image

RESOURCE = "worker_node"
SIZE = 96
CONFIG = TrainingConfig(tile_size=108, batch_size=2, epoch_tiles=4, seed=0, patience=10_000)
WAIT_S = 120.0


def annotated(name: str, split: str, seed: int) -> AnnotatedImage:
    """A generated root image with sparse corrections drawn from its true mask."""
    image, mask = generate_root_image(seed=seed, height=SIZE, width=SIZE, noise_sigma=3.0)
    rng = np.random.default_rng(seed)
    labels = np.zeros(mask.shape, dtype=np.uint8)
    labels[(mask == 1) & (rng.random(mask.shape) < 0.6)] = FOREGROUND
    labels[(mask == 0) & (rng.random(mask.shape) < 0.1)] = BACKGROUND
    return AnnotatedImage(name, image, labels, split)  # type: ignore[arg-type]


def actor_node(handle: Any) -> str:
    """The id of the node an actor runs on."""
    from ray._private.state import state

    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        info = state.actor_table(handle._actor_id.hex())
        node = (info.get("Address") or {}).get("NodeID") if info else None
        if node and info.get("State") == "ALIVE":
            return str(node)
        time.sleep(0.1)
    raise AssertionError("the actor never came alive")


async def project_on_worker(backend: RayBackend) -> dict[str, Any]:
    """Train one epoch and segment one image; what the app would see."""
    import ray

    started = time.monotonic()
    deadline = started + WAIT_S
    await backend.add_annotation(annotated("a.png", "train", 1))
    await backend.add_annotation(annotated("b.png", "val", 2))
    await backend.start_training(CONFIG)
    records = []
    while not records and time.monotonic() - started < WAIT_S:
        records = await backend.epoch_log()
        await asyncio.sleep(0.2)
    status = await backend.status()
    image, _ = generate_root_image(seed=3, height=SIZE, width=SIZE)
    await backend.request_segmentation(SegmentationRequest("c.png", image))
    result = await backend.segmentation("c.png", timeout=WAIT_S)
    segmenter_device = ray.get(backend.segmenter.device.remote())
    seen = {
        "epochs": len(records),
        "trainer_state": status.state.value,
        "trainer_device": status.device,
        "trainer_error": status.last_error,
        "n_train": status.n_train,
        "n_val": status.n_val,
        "segmented_shape": list(result.mask.shape) if result is not None else None,
        "segmented_version": result.model_version if result is not None else None,
        "segmenter_device": segmenter_device,
        "trainer_node": actor_node(backend.trainer),
        "segmenter_node": actor_node(backend.segmenter),
        "seconds": round(time.monotonic() - started, 1),
    }
    await backend.end_actors()
    while free_resources(backend.placement).get("GPU", 0) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # the next run plans with the GPUs the actors gave back
    return seen


def control_open(path: str) -> str:
    """On the worker node: try to read a workspace file (the guard must refuse)."""
    try:
        with open(path, "rb") as handle:
            handle.read()
    except PermissionError:
        return "refused"
    return "read"


def main(argv: list[str]) -> int:
    import ray

    workspace, address, control = Path(argv[0]), argv[1], argv[2]
    connection = connect(workspace, address)
    deadline = time.monotonic() + WAIT_S
    nodes = [node for node in ray.nodes() if node["Alive"]]
    while len(nodes) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        nodes = [node for node in ray.nodes() if node["Alive"]]
    worker = [node["NodeID"] for node in nodes if node["Resources"].get(RESOURCE)]
    start = snapshot_from_model(UNetGNRes(), version=1)
    placement = Placement(RESOURCE)
    backend = RayBackend("two-nodes", start_model=start, tta=False, placement=placement)
    seen = asyncio.run(project_on_worker(backend))
    task = ray.remote(control_open).options(resources=placement.actor_resources(), num_cpus=0)
    seen.update(
        {
            "address": connection.address,
            "embedded": connection.embedded,
            "nodes": [(node["NodeManagerAddress"], node["Resources"]) for node in nodes],
            "worker_node": worker[0] if worker else None,
            "control": ray.get(task.remote(control)),
        }
    )
    disconnect()
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
