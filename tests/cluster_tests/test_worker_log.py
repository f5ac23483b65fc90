"""A batch worker's own log: a line per image in a Ray worker, nothing on a driver's
terminal."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest

from cluster.batch.worker import BatchSettings, SegmentWorker
from cluster.io.images import encode_png
from cluster.io.model_files import model_to_bytes
from cluster.io.worker_log import PACKAGE_LOGGER, log_to_worker_file
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model


@pytest.fixture
def package_logger() -> Iterator[logging.Logger]:
    """The package logger, put back as it was (the test process is not a Ray worker)."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def _segment_one(in_ray_worker: bool) -> None:
    blobs = [model_to_bytes(snapshot_from_model(UNetGNRes(), version=1))]
    worker = SegmentWorker(blobs, BatchSettings(tta=False), threads=1, in_ray_worker=in_ray_worker)
    image = np.zeros((40, 48, 3), dtype=np.uint8)
    assert worker.one("plot7.png", encode_png(image)).error == ""


def test_a_ray_worker_logs_each_image_it_starts_once_per_line(
    package_logger: logging.Logger, capfd: pytest.CaptureFixture[str]
) -> None:
    _segment_one(in_ray_worker=True)
    log_to_worker_file()  # a second call adds no second handler
    _segment_one(in_ray_worker=True)
    lines = [line for line in capfd.readouterr().err.splitlines() if "segmenting" in line]
    assert len(lines) == 2
    assert all(line.endswith("INFO cluster.batch.worker: segmenting plot7.png") for line in lines)


def test_in_the_driver_the_worker_writes_nothing_to_the_terminal(
    package_logger: logging.Logger, capfd: pytest.CaptureFixture[str]
) -> None:
    _segment_one(in_ray_worker=False)
    assert "segmenting" not in capfd.readouterr().err
