"""The segmenter actor behind RayBackend: priority, duplicates, cancellation, staleness."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest

from cluster.api import Backend, SegmentationRequest
from cluster.backends.ray_backend import RayBackend, actor_shapes
from cluster.backends.segment_queue import STALE_PRIORITY
from cluster.head.connect import Connection
from cluster.inference.tiled import segment
from cluster.nn.devices import pick_device, prepare_model, resolve_precision
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import model_from_snapshot, snapshot_from_model
from cluster.simulate.synthetic import generate_root_image

pytestmark = pytest.mark.ray

SIZE = 64
WAIT_S = 60.0


def request(name: str, priority: int, seed: int) -> SegmentationRequest:
    image, _ = generate_root_image(seed=seed, height=SIZE, width=SIZE)
    return SegmentationRequest(name, image, priority)


async def wait_processed(backend: RayBackend, count: int) -> list[tuple[str, int]]:
    """(name, model version) of finished requests, once at least ``count`` are done."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        done = await backend.processed()
        if len(done) >= count:
            return [(p.name, p.model_version) for p in done]
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {len(done)} of {count} segmentations finished")


@pytest.fixture(scope="module")
def backend(ray_session: Connection) -> Iterator[RayBackend]:
    """A project's actors with no model yet: requests wait in the queue until one comes."""
    made = RayBackend("segmenter-test", tta=False)
    try:
        yield made
    finally:
        asyncio.run(made.end_actors())


def test_backend_follows_the_seam(backend: RayBackend) -> None:
    assert isinstance(backend, Backend)


def test_shapes_leave_room_on_a_small_machine() -> None:
    trainer, segmenter = actor_shapes(2)
    assert trainer.num_cpus + segmenter.num_cpus < 2 and trainer.num_cpus >= 1
    trainer, segmenter = actor_shapes(1)
    assert trainer.num_cpus + segmenter.num_cpus < 1
    trainer, segmenter = actor_shapes(16, 1)
    assert trainer.num_gpus + segmenter.num_gpus <= 1 and segmenter.num_gpus > 0


async def test_queue_order_dedup_cancel_then_staleness(backend: RayBackend) -> None:
    import ray

    await backend.request_segmentation(request("next", 5, seed=1))
    await backend.request_segmentation(request("far", 3, seed=2))
    await backend.request_segmentation(request("on-screen", 1, seed=3))
    await backend.request_segmentation(request("far", 9, seed=2))  # the user moved on: later
    await backend.request_segmentation(request("left", 2, seed=4))
    await backend.cancel_segmentation("left")
    assert await backend.segmentation("on-screen", timeout=0.2) is None  # no model yet

    first = snapshot_from_model(UNetGNRes(), version=3)
    ray.get(backend.segmenter.set_model.remote(first))
    done = await wait_processed(backend, 3)
    assert done == [("on-screen", 3), ("next", 3), ("far", 3)]  # each once, by priority
    shown = await backend.segmentation("on-screen", timeout=5)
    assert shown is not None and shown.model_version == 3
    assert shown.mask.shape == (SIZE, SIZE) and set(np.unique(shown.mask)) <= {0, 1}
    assert await backend.segmentation("left", timeout=0.2) is None

    # A better model: every result made by the older one is made again, after new work.
    ray.get(backend.segmenter.set_model.remote(snapshot_from_model(UNetGNRes(), version=4)))
    await backend.request_segmentation(request("new", 1, seed=5))
    done = await wait_processed(backend, 7)
    assert sorted(done[3:]) == [("far", 4), ("new", 4), ("next", 4), ("on-screen", 4)]
    redone = [p for p in await backend.processed() if p.model_version == 4 and p.name != "new"]
    assert all(p.priority == STALE_PRIORITY for p in redone)
    for name in ("on-screen", "next", "far", "new"):
        result = await backend.segmentation(name, timeout=5)
        assert result is not None and result.model_version == 4


async def test_segmentation_through_the_actor_costs_little_over_direct(
    backend: RayBackend,
) -> None:
    import ray

    snapshot = snapshot_from_model(UNetGNRes(), version=5)
    ray.get(backend.segmenter.set_model.remote(snapshot))
    image, _ = generate_root_image(seed=9, height=256, width=256)
    started = time.perf_counter()
    await backend.request_segmentation(SegmentationRequest("big", image, 0))
    result = await backend.segmentation("big", timeout=WAIT_S)
    through_actor = time.perf_counter() - started
    assert result is not None and result.model_version == 5 and result.mask.shape == (256, 256)
    cpu = pick_device("cpu")
    model = prepare_model(model_from_snapshot(snapshot), cpu).eval()
    options = {"tta": False, "device": cpu, "dtype": resolve_precision(cpu, "auto")}
    segment([model], image, **options)  # warm up, as the actor already is
    started = time.perf_counter()
    segment([model], image, **options)
    direct = time.perf_counter() - started
    # Queue and transport add little to the work itself, which is no slower than here
    # (the actor has one thread to this process's two: allow for that).
    assert through_actor - result.seconds < 0.5, (through_actor, result.seconds)
    assert result.seconds < 3 * direct + 0.5, (result.seconds, direct)
