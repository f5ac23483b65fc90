"""Batch segmentation on Ray Data: sizing the pool, streaming in chunks, equal masks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cluster.batch.pipeline import plan_chunks, segment_paths, worker_shape
from cluster.batch.worker import BatchSettings, ImageResult, models_from_blobs
from cluster.inference.tiled import segment
from cluster.io.images import read_image
from cluster.io.model_files import model_to_bytes
from cluster.nn.devices import pick_device
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.simulate.synthetic import write_dataset


@pytest.fixture(scope="module")
def ensemble() -> list[bytes]:
    blobs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        blobs.append(model_to_bytes(snapshot_from_model(UNetGNRes(), version=seed)))
    return blobs


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    source = tmp_path / "images"
    write_dataset(source, count=3, seed=3, height=48, width=64)
    (source / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n then nothing of use")
    return source


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_one_worker_per_gpu_else_cpus_split_by_threads() -> None:
    gpu = worker_shape({"CPU": 16, "GPU": 4})
    assert (gpu.workers, gpu.num_gpus) == (4, 1.0)
    cpu = worker_shape({"CPU": 16}, threads_per_worker=4)
    assert (cpu.workers, cpu.threads, cpu.num_gpus) == (4, 4, 0.0)
    assert worker_shape({"CPU": 2}).workers == 1  # never zero workers on a small machine
    two = worker_shape({"CPU": 2}, workers=2)
    assert (two.workers, two.threads) == (2, 1)
    assert worker_shape({"CPU": 2}, workers=8, threads_per_worker=2).workers == 1  # what fits


def test_chunks_bound_the_bytes_in_flight_but_take_any_single_file() -> None:
    chunks = plan_chunks([40, 40, 40, 200, 10], max_bytes=100)
    assert [list(c) for c in chunks] == [[0, 1], [2], [3], [4]]
    assert [list(c) for c in plan_chunks([1] * 5, max_items=2)] == [[0, 1], [2, 3], [4]]


def test_ray_masks_equal_the_single_process_result_and_bad_files_are_rows(
    ray_session: object, ensemble: list[bytes], folder: Path
) -> None:
    settings = BatchSettings(tta=True, precision="fp32", kinds=("length", "count", "regions"))
    paths = sorted(folder.iterdir())
    results = {r.name: r for r in segment_paths(paths, ensemble, settings, workers=2)}
    assert sorted(results) == [p.name for p in paths]
    assert results["corrupt.png"].error  # the reason, e.g. a truncated file
    assert results["corrupt.png"].mask == b""

    device = pick_device("cpu")
    models, _ = models_from_blobs(ensemble, device)
    for path in paths:
        if path.name == "corrupt.png":
            continue
        result = results[path.name]
        assert result.error == ""
        expected, _ = segment(models, read_image(path), tta=True, device=device, dtype=None)
        assert np.array_equal(_decoded(result.mask) > 0, expected > 0)
        assert result.row["count"] >= 0 and "length_px" in result.row
        assert {r["file"] for r in result.regions} <= {path.name}
        assert len(result.regions) == result.row["count"]


def test_shared_storage_workers_write_the_masks_themselves(
    ray_session: object, ensemble: list[bytes], folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "masks"
    out.mkdir()
    paths = sorted(folder.glob("root_*.png"))[:2]
    settings = BatchSettings(tta=False, fmt="rve")
    results: list[ImageResult] = list(
        segment_paths(paths[:2], ensemble[:1], settings, shared_storage=True, output_dir=out)
    )
    assert all(r.error == "" and r.mask == b"" for r in results)
    written = sorted(p.name for p in out.iterdir())
    assert written == [p.name for p in paths]
    assert set(np.unique(_decoded((out / paths[0].name).read_bytes()))) <= {0, 255}
