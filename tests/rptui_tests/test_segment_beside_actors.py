"""Batch segmentation on a 2-CPU head whose trainer and segmenter hold 1.5 CPUs: it finishes.

A project's trainer actor holds one CPU and its segmenter half of one for as long as they
live; batch workers that asked for a whole CPU waited for them forever.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cluster.api import TrainingConfig
from cluster.backends.ray_backend import RayBackend
from cluster.backends.trainer_actor import trainer_name
from cluster.batch.waiting import wait_notice
from cluster.batch.worker_shape import WorkerShape, worker_shape
from cluster.head.connect import Connection
from cluster.head.trainer_report import read_trainer_reports
from tests.rptui_tests.screen_helpers import DATASET, PROJECT, make_workspace, run_cli

pytestmark = pytest.mark.ray

BUSY_PROJECT = "busy-beside-batch"  # the actors' project; the folder uses PROJECT's model
IMAGES = 3
CONFIG = TrainingConfig(tile_size=108, batch_size=2, epoch_tiles=2, seed=0)
SESSION_CPUS = 2.0
HELD_CPUS = 1.5  # trainer 1 + segmenter 0.5 on a 2-CPU head
NOTICE_S = 0.2


def _gcs_client() -> object:
    import ray
    from ray._raylet import GcsClient

    return GcsClient(address=ray.get_runtime_context().gcs_address)


def test_a_batch_worker_never_asks_for_more_than_is_free() -> None:
    half = worker_shape({"CPU": 0.5})
    assert (half.workers, half.num_cpus, half.threads) == (1, 0.5, 1)
    nothing = worker_shape({})  # Ray leaves out what is all taken
    assert (nothing.workers, nothing.num_cpus) == (1, 0.0)
    shared_gpu = worker_shape({"CPU": 0.5, "GPU": 0.5})
    assert (shared_gpu.workers, shared_gpu.num_gpus, shared_gpu.num_cpus) == (1, 0.5, 0.5)
    assert worker_shape({"CPU": 1.0}).num_cpus == 1.0


@pytest.mark.timeout(300)
async def test_segment_finishes_while_the_projects_actors_hold_their_cpus(
    ray_session: Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ray

    workspace = make_workspace(tmp_path / "ws", count=IMAGES, height=40, width=56, with_model=True)
    source, out = workspace.dataset_dir(DATASET), tmp_path / "masks"
    backend = RayBackend(BUSY_PROJECT)
    try:
        await backend.start_training(CONFIG)  # no annotations: it waits, holding its CPU
        await backend.processed()  # the segmenter is up too
        assert ray.available_resources().get("CPU", 0.0) <= SESSION_CPUS - HELD_CPUS
        words = [str(source), str(out), "--model", PROJECT, "--no-tta", "--measure", "count"]
        assert run_cli(workspace.root, "segment", *words) == 0
        assert len(list(out.glob("*.png"))) == IMAGES
        assert f"{IMAGES} masks written" in capsys.readouterr().out

        # What `rptui status` reads: the trainer says what it does, without a driver call.
        reports = read_trainer_reports(_gcs_client())
        report = reports[ray_session.namespace, trainer_name(BUSY_PROJECT)]
        assert not report.training and "waiting for annotations" in report.describe()

        # A pool that cannot start says what it waits for and who holds it.
        notices: list[str] = []
        too_big = WorkerShape(workers=1, num_cpus=SESSION_CPUS * 4, num_gpus=0.0)
        with wait_notice(too_big, notices.append, interval_s=NOTICE_S):
            while not notices:
                await asyncio.sleep(NOTICE_S)
        assert "for 8 CPU: held by" in notices[0]
        assert f"{trainer_name(BUSY_PROJECT)} (CPU 1)" in notices[0]
    finally:
        await backend.end_actors()
