"""A real two-node Ray cluster on loopback: work placed on the worker node by resource,
declared-but-absent GPUs, and a worker node that never touches the driver's files.

The cluster (:mod:`two_nodes_cluster`) is started once for the module; a driver process
(:mod:`two_nodes_driver`) trains and segments on it, and ``rptui --address ... segment``
runs a batch on it. The suite's own Ray is not touched: every driver here is a process
of its own, and each node is stopped by its own session.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cluster.io.model_files import save_model
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.simulate.synthetic import generate_root_image
from tests.cluster_tests import two_nodes_cluster
from tests.cluster_tests.two_nodes_cluster import WORKER_RESOURCE, TwoNodes

pytestmark = pytest.mark.ray

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "two_nodes_driver.py"
REPOSITORY = HERE.parents[1]
IMAGES = 4
RUN_TIMEOUT_S = 240
WORKER = "segment worker"
PLANNED = f"batch: {IMAGES} images or slices on WorkerShape(workers=2, num_cpus=1.0, num_gpus=1.0)"
GPU_NOTE = re.compile(r"(trainer|segment worker|segmenter): the node declares GPU (\d+)")


@dataclass
class Outcome:
    """What the module's runs on the cluster left behind."""

    nodes: TwoNodes
    workspace: Path
    masks: Path
    control: Path
    driver: dict[str, Any]
    segment: subprocess.CompletedProcess[str]
    guard: list[str]
    worker_notes: list[tuple[str, str, str]]  # (log file, what, GPU id) on the worker node
    head_notes: list[tuple[str, str, str]]


def _notes(logs: list[Path]) -> list[tuple[str, str, str]]:
    found = []
    for path in logs:
        text = path.read_text(errors="replace")
        found += [(path.name, what, gpu) for what, gpu in GPU_NOTE.findall(text)]
    return found


def _inputs(driver_root: Path) -> tuple[Path, Path, Path, Path]:
    """The driver's files: workspace, images, output folder, model file."""
    workspace, images, masks = (driver_root / name for name in ("workspace", "images", "masks"))
    for folder in (workspace, images):
        folder.mkdir(parents=True)
    for index in range(IMAGES):
        image, _ = generate_root_image(seed=10 + index, height=96, width=128)
        Image.fromarray(image).save(images / f"root{index}.png")
    model = driver_root / "model.pt"
    save_model(model, snapshot_from_model(UNetGNRes(), version=1))
    return workspace, images, masks, model


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    root = tmp_path_factory.mktemp("two-nodes").resolve()
    (root / "cluster").mkdir()
    driver_root = root / "driver"
    workspace, images, masks, model = _inputs(driver_root)
    control = workspace / "guard-control.txt"
    control.write_text("the worker node must not read this")
    with two_nodes_cluster.running(root, guarded=[driver_root]) as nodes:
        env = nodes.driver_environment()
        run = subprocess.run(
            [sys.executable, str(DRIVER), str(workspace), nodes.address, str(control)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPOSITORY,
            timeout=RUN_TIMEOUT_S,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        driver = json.loads(run.stdout.strip().splitlines()[-1])
        rptui = [str(Path(sys.executable).with_name("rptui")), "--verbose"]
        rptui += ["--workspace", str(workspace)]
        command = [*rptui, "--address", nodes.address, "segment", str(images), str(masks)]
        command += ["--model", str(model), "--no-tta", "--progress-jsonl"]
        command += ["--worker-resource", WORKER_RESOURCE]
        segment = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd=REPOSITORY,
            timeout=RUN_TIMEOUT_S,
        )
        guard = nodes.guard_log.read_text().splitlines() if nodes.guard_log.exists() else []
        yield Outcome(
            nodes=nodes,
            workspace=workspace,
            masks=masks,
            control=control,
            driver=driver,
            segment=segment,
            guard=guard,
            worker_notes=_notes(nodes.worker_logs()),
            head_notes=_notes(nodes.head_logs()),
        )


def test_the_driver_and_rptui_join_the_two_node_cluster_on_loopback(outcome: Outcome) -> None:
    driver = outcome.driver
    assert driver["address"] == outcome.nodes.address and not driver["embedded"]
    assert [address for address, _ in driver["nodes"]] == ["127.0.0.1", "127.0.0.1"]
    workers = [res for _, res in driver["nodes"] if res.get(WORKER_RESOURCE)]
    assert len(workers) == 1 and workers[0]["GPU"] == 2
    assert outcome.segment.returncode == 0, outcome.segment.stderr[-3000:]


def test_trainer_and_segmenter_run_on_the_worker_node(outcome: Outcome) -> None:
    driver = outcome.driver
    assert driver["trainer_node"] == driver["segmenter_node"] == driver["worker_node"]
    assert driver["trainer_error"] is None
    assert driver["epochs"] >= 1 and (driver["n_train"], driver["n_val"]) == (1, 1)
    assert driver["segmented_shape"] == [96, 96] and driver["segmented_version"] >= 1


def test_declared_gpus_that_are_absent_mean_cpu_and_a_message(outcome: Outcome) -> None:
    driver = outcome.driver
    assert driver["trainer_device"] == "cpu (declared GPU absent)"
    assert driver["segmenter_device"].startswith("cpu (the node declares GPU")
    assert {what for _, what, _ in outcome.worker_notes} >= {"trainer", "segmenter"}


def test_batch_workers_run_on_the_worker_node_one_per_declared_gpu(outcome: Outcome) -> None:
    report = json.loads(outcome.segment.stdout.strip().splitlines()[-1])["report"]
    assert len(report["written"]) == IMAGES and not report["failed"]
    assert sorted(path.name for path in outcome.masks.glob("*.png")) == [
        f"root{index}.png" for index in range(IMAGES)
    ]
    # The planner counts one worker per declared GPU (each with a GPU of its own); the
    # workers that started ran on the worker node, on the CPU, and said so.
    assert PLANNED in (outcome.workspace / "logs" / "ray-driver.log").read_text()
    gpus = {gpu for _, what, gpu in outcome.worker_notes if what == WORKER}
    assert gpus and gpus <= {"0", "1"}
    assert not outcome.head_notes  # nothing of the project ran on the head


def test_the_worker_node_never_touches_the_drivers_files(outcome: Outcome) -> None:
    home = str(outcome.nodes.worker_home)
    started = [line.split() for line in outcome.guard if line.startswith("start ")]
    assert len(started) >= 4  # raylet's agents, trainer, segmenter, batch workers
    assert all(fields[2:] == [f"cwd={home}", f"home={home}"] for fields in started)
    accesses = [line for line in outcome.guard if line.startswith("access ")]
    # The one access is the driver's control: proof that the guard catches an open.
    assert outcome.driver["control"] == "refused"
    assert [line.split(" ", 2)[2] for line in accesses] == [f"open {outcome.control}"]
