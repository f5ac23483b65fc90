"""The trainer actor on an embedded Ray: it learns, takes annotations at once, survives a kill."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from cluster.api import TrainerState
from cluster.backends.ray_backend import RayBackend
from cluster.head.connect import Connection
from tests.cluster_tests.two_nodes_driver import CONFIG, annotated

pytestmark = pytest.mark.ray

WAIT_S = 60.0


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def backend(ray_session: Connection) -> Iterator[RayBackend]:
    """A project's trainer and segmenter; ended (not restarted) after the module."""
    made = RayBackend("trainer-test")
    try:
        yield made
    finally:
        asyncio.run(made.end_actors())


async def test_trainer_learns_and_a_newer_model_appears(backend: RayBackend) -> None:
    for index, split in enumerate(("train", "train", "val")):
        await backend.add_annotation(annotated(f"img{index}", split, seed=index))
    await backend.start_training(CONFIG)

    async def improved() -> bool:
        return await backend.newest_model(1) is not None

    assert await wait_for(improved), await backend.status()
    status = await backend.status()
    assert status.state == TrainerState.TRAINING
    assert (status.n_train, status.n_val) == (2, 1)
    assert status.model_version >= 2 and status.best_f1 is not None
    records = await backend.epoch_log()
    snapshot = await backend.newest_model(1)
    assert snapshot is not None and snapshot.f1 is not None
    assert snapshot.f1 >= max(r.f1 for r in records if r.improved)
    assert [r.epoch for r in records] == list(range(1, len(records) + 1))


async def test_a_new_annotation_is_in_the_sampler_within_a_second(backend: RayBackend) -> None:
    before = await backend.status()
    assert before.state == TrainerState.TRAINING
    started = time.perf_counter()
    await backend.add_annotation(annotated("late", "train", seed=7))
    after = await backend.status()
    elapsed = time.perf_counter() - started
    assert after.n_train == before.n_train + 1
    assert elapsed < 1.0


async def test_killed_trainer_resumes_with_every_annotation(backend: RayBackend) -> None:
    import ray

    before = await backend.status()
    last_epoch = (await backend.epoch_log())[-1].epoch
    newest = await backend.newest_model()
    assert newest is not None
    assert await wait_for(lambda: _training(backend))  # mid-epoch, not between calls
    old_incarnation = backend.incarnation
    ray.kill(backend.trainer, no_restart=False)

    statuses = []

    async def noticed() -> bool:  # the app polls the status every second or so
        statuses.append(await backend.status())
        return backend.restarts_seen == 1

    assert await wait_for(noticed)
    status = statuses[-1]
    assert backend.incarnation != old_incarnation
    assert (status.n_train, status.n_val) == (before.n_train, before.n_val)
    assert status.model_version >= newest.version  # rebuilt from the newest model

    async def further_epoch() -> bool:
        records = await backend.epoch_log(last_epoch)
        return bool(records)

    assert await wait_for(further_epoch)
    resumed = await backend.status()
    assert resumed.state == TrainerState.TRAINING and resumed.epoch > last_epoch


async def _training(backend: RayBackend) -> bool:
    return (await backend.status()).state == TrainerState.TRAINING
