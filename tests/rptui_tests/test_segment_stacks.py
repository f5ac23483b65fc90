"""``rptui segment`` and ``rptui measure`` on stacks with a multi-class model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import torch
from PIL import Image

from cluster.io.mask_formats import read_label_stack
from cluster.io.model_files import save_model
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.simulate.synthetic_classes import CLASS_NAMES, generate_class_stack
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import run_cli

SIDE = 64
SLICES = 3
TILE = 124
VOXEL = (0.1, 0.1, 0.2)


def _model(path: Path, classes: tuple[str, ...]) -> Path:
    torch.manual_seed(len(classes))
    model = UNetGNRes(out_channels=len(classes))
    save_model(path, snapshot_from_model(model, version=1, classes=classes, tile_size=TILE))
    return path


def _table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype={"error": str})
    table["error"] = table["error"].fillna("")
    return table


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """A 3-page TIFF stack, a slice folder with a truncated second slice, a plain image."""
    folder = tmp_path / "in"
    folder.mkdir()
    grey, _ = generate_class_stack(slices=SLICES, height=SIDE, width=SIDE, seed=1)
    tifffile.imwrite(folder / "scan.tif", grey.astype(np.uint8))
    cores = folder / "cores"
    cores.mkdir()
    for z in range(SLICES):
        data = _png(grey[z])
        (cores / f"slice_{z + 1}.png").write_bytes(data[: len(data) // 2] if z == 1 else data)
    (folder / "plain.png").write_bytes(_png(grey[0]))
    return folder


def test_a_stack_becomes_one_label_tiff_with_class_and_slice_tables(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Workspace(tmp_path / "ws").ensure().root
    model = _model(tmp_path / "four.pt", CLASS_NAMES)
    out = tmp_path / "out"
    words = ["--in-process", "segment", str(source), str(out), "--model", str(model)]
    voxel = ",".join(map(str, VOXEL))
    options = ["--no-tta", "--measure", "count", "--voxel-size", voxel, "--progress-jsonl"]
    assert run_cli(root, *words, *options) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    steps = [line for line in lines if "done" in line]
    assert steps[-1]["done"] == steps[-1]["total"] == 2 * SLICES + 1  # progress counts slices
    assert "scan.z0003" in {step["file"] for step in steps}
    failed = lines[-1]["report"]["failed"]
    assert len(failed) == 1 and failed[0][0].endswith("cores") and "slice 2" in failed[0][1]

    masks, names = read_label_stack(out / "scan.tif")
    assert masks.shape == (SLICES, SIDE, SIDE) and names == CLASS_NAMES
    assert masks.max() < len(CLASS_NAMES)
    assert not (out / "cores.tif").exists()  # a stack with a failed slice is not written
    plain = Image.open(out / "plain.png")
    assert plain.mode == "L" and np.asarray(plain).max() < len(CLASS_NAMES)

    table = _table(out / "measurements.csv")
    scan = table[table["file"] == "scan.tif"]
    assert len(scan) == SLICES * (len(CLASS_NAMES) - 1)
    assert set(scan["slice"]) == {1, 2, 3} and set(scan["class_name"]) == set(CLASS_NAMES[1:])
    assert scan["area_px"].astype(int).sum() == int(np.count_nonzero(masks))
    assert (table.loc[table["file"] == "cores", "error"] != "").sum() == 1

    volumes = pd.read_csv(out / "volumes.csv")
    assert list(volumes["stack"]) == ["scan.tif"] * (len(CLASS_NAMES) - 1)
    assert volumes["voxels"].sum() == int(np.count_nonzero(masks))
    assert volumes["volume_mm3"].sum() == pytest.approx(np.count_nonzero(masks) * np.prod(VOXEL))

    measured = tmp_path / "measured.csv"
    assert run_cli(root, "measure", str(out), "--kind", "count", "-o", str(measured)) == 0
    again = _table(measured)
    again_scan = again[again["file"] == "scan.tif"]
    assert list(again_scan["area_px"]) == list(scan["area_px"])
    assert list(again_scan["class_name"]) == list(scan["class_name"])
    assert pd.read_csv(tmp_path / "volumes.csv")["voxels"].tolist() == volumes["voxels"].tolist()

    capsys.readouterr()
    assert run_cli(root, *words, "--no-tta", "--measure", "count") == 0  # resumed
    assert "0 masks written" in capsys.readouterr().out
    resumed = _table(out / "measurements.csv")
    assert list(resumed.loc[resumed["file"] == "scan.tif", "area_px"]) == list(scan["area_px"])


def test_a_binary_model_writes_0_255_stack_pages(source: Path, tmp_path: Path) -> None:
    root = Workspace(tmp_path / "ws").ensure().root
    model = _model(tmp_path / "binary.pt", ("background", "foreground"))
    out = tmp_path / "out"
    words = ["--in-process", "segment", str(source), str(out), "--model", str(model), "--no-tta"]
    assert run_cli(root, *words) == 0
    pages = tifffile.imread(out / "scan.tif")
    assert pages.shape == (SLICES, SIDE, SIDE) and set(np.unique(pages)) <= {0, 255}
    assert set(np.unique(np.asarray(Image.open(out / "plain.png")))) <= {0, 255}


def test_on_ray_the_stack_tiff_equals_the_in_process_one(
    ray_session: object, source: Path, tmp_path: Path
) -> None:
    root = Workspace(tmp_path / "ws").ensure().root
    model = _model(tmp_path / "four.pt", CLASS_NAMES)
    masks = {}
    for where, flag in (("local", ["--in-process"]), ("ray", [])):
        out = tmp_path / where
        words = ["segment", str(source), str(out), "--model", str(model), "--no-tta"]
        assert run_cli(root, *flag, *words, "--workers", "1") == 0
        masks[where] = read_label_stack(out / "scan.tif")[0]
        assert not (out / "cores.tif").exists()
    assert np.array_equal(masks["ray"], masks["local"])
