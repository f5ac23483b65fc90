"""Stacks and multi-class masks in batch segmentation and measurements."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from cluster.batch.pipeline import segment_paths
from cluster.batch.worker import BatchSettings, SegmentWorker, Unit
from cluster.io.mask_formats import encode_label_stack, encode_mask, read_label_stack
from cluster.io.model_files import model_to_bytes
from cluster.io.stacks import slice_name
from cluster.measure.files import measure_file
from cluster.measure.tables import measure_stack, volume_rows
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.simulate.synthetic_classes import CLASS_NAMES, generate_class_stack

TILE = 124
SLICES = 3
SIDE = 64


@pytest.fixture(scope="module")
def four_class_model() -> list[bytes]:
    torch.manual_seed(4)
    model = UNetGNRes(out_channels=len(CLASS_NAMES))
    snapshot = snapshot_from_model(model, version=1, classes=CLASS_NAMES, tile_size=TILE)
    return [model_to_bytes(snapshot)]


def _label_stack() -> np.ndarray:
    """3 slices, classes 1..3 in known boxes: class 1 two regions, class 2 one, class 3 one."""
    stack = np.zeros((3, 20, 20), np.uint8)
    stack[:, 1:4, 1:4] = 1  # 9 px per slice
    stack[:, 10:12, 10:15] = 1  # 10 px per slice
    stack[0, 15:19, 0:5] = 2  # 20 px, slice 1 only
    stack[1:, 5:8, 15:19] = 3  # 12 px on slices 2 and 3
    return stack


def test_classes_per_slice_and_volumes_of_a_hand_made_stack() -> None:
    stack = _label_stack()
    names = ("background", "air", "soil", "root")
    table = measure_stack(stack, file="scan.tif", kinds=("count",), classes=names)
    assert len(table) == 3 * 3  # a row per foreground class per slice
    by = table.set_index(["slice", "class_name"])
    assert by.loc[(1, "air"), "area_px"] == 19 and by.loc[(1, "air"), "count"] == 2
    assert by.loc[(1, "soil"), "area_px"] == 20 and by.loc[(2, "soil"), "area_px"] == 0
    assert by.loc[(3, "root"), "count"] == 1 and by.loc[(1, "root"), "count"] == 0

    regions = measure_stack(stack, file="scan.tif", kinds=("regions",), classes=names)
    per_slice = regions.groupby(["slice", "class_name"]).size()
    assert per_slice[(1, "air")] == 2 and per_slice[(2, "root")] == 1
    assert sorted(regions.loc[regions["slice"] == 1, "area"]) == [9.0, 10.0, 20.0]

    volumes = volume_rows(stack, stack="scan.tif", classes=names, voxel_size=(0.1, 0.1, 0.5))
    voxels = {row["class_name"]: row["voxels"] for row in volumes}
    assert voxels == {"air": 57, "soil": 20, "root": 24}
    mm3 = {row["class_name"]: row["volume_mm3"] for row in volumes}
    assert mm3["soil"] == pytest.approx(20 * 0.005)


def test_stack_files_keep_classes_and_names_and_binary_stays_0_255(tmp_path: Path) -> None:
    stack = _label_stack()
    path = tmp_path / "scan.tif"
    path.write_bytes(encode_label_stack(stack, classes=("background", "air", "soil", "root")))
    masks, names = read_label_stack(path)
    assert np.array_equal(masks, stack) and names[1:] == ("air", "soil", "root")
    volumes: list[dict] = []
    table = measure_file(path, kinds=("length",), volumes=volumes)
    assert set(table["slice"]) == {1, 2, 3} and "root" in set(table["class_name"])
    assert sum(row["voxels"] for row in volumes) == int(np.count_nonzero(stack))

    binary = tmp_path / "binary.tif"
    binary.write_bytes(encode_label_stack(stack > 0, classes=("background", "foreground")))
    assert set(np.unique(tifffile.imread(binary))) == {0, 255}
    assert set(np.unique(read_label_stack(binary)[0])) == {0, 1}


def test_multiclass_png_is_a_label_image_and_binary_png_is_unchanged(tmp_path: Path) -> None:
    mask = np.zeros((8, 8), np.uint8)
    mask[2:4, 2:4] = 1  # only class 1 present: must stay 1, not become 255
    label = encode_mask(mask, classes=("background", "air", "soil"))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(label))), mask)
    (tmp_path / "a.png").write_bytes(label)
    rows = measure_file(tmp_path / "a.png", kinds=("count",))
    assert list(rows["class_name"]) == ["air", "soil"] and list(rows["area_px"]) == [4, 0]
    binary = encode_mask(mask, classes=("background", "foreground"))
    assert set(np.unique(np.asarray(Image.open(io.BytesIO(binary))))) == {0, 255}


def _write_stacks(folder: Path) -> tuple[Path, Path]:
    """A 3-page TIFF stack and a slice folder whose second slice is truncated."""
    folder.mkdir()
    grey, _ = generate_class_stack(slices=SLICES, height=SIDE, width=SIDE, seed=2)
    tiff = folder / "scan.tif"
    tifffile.imwrite(tiff, grey.astype(np.uint8))
    slices = folder / "cores"
    slices.mkdir()
    for z in range(SLICES):
        buffer = io.BytesIO()
        Image.fromarray(grey[z].astype(np.uint8)).save(buffer, format="PNG")
        data = buffer.getvalue()
        (slices / f"slice_{z + 1}.png").write_bytes(data[: len(data) // 2] if z == 1 else data)
    return tiff, slices


def test_ray_slices_equal_the_single_process_masks_and_a_bad_slice_is_named(
    ray_session: object, four_class_model: list[bytes], tmp_path: Path
) -> None:
    tiff, slices = _write_stacks(tmp_path / "in")
    units = [Unit(slice_name("scan", z), tiff, z) for z in range(SLICES)]
    units += [Unit(slice_name("cores", z), slices, z) for z in range(SLICES)]
    settings = BatchSettings(tta=False, precision="fp32", kinds=("count",))
    results = {r.name: r for r in segment_paths(units, four_class_model, settings, workers=1)}
    assert sorted(results) == sorted(unit.name for unit in units)
    assert results["cores.z0002"].error and "slice_2.png" in results["cores.z0002"].error

    worker = SegmentWorker(four_class_model, settings)
    for unit in units:
        if unit.name == "cores.z0002":
            continue
        local = worker.one(unit.name, str(unit.path), z=unit.z)
        remote = results[unit.name]
        assert remote.error == "" and local.error == ""
        mask = np.asarray(Image.open(io.BytesIO(remote.mask)))
        assert mask.shape == (SIDE, SIDE) and mask.max() < len(CLASS_NAMES)
        assert np.array_equal(mask, np.asarray(Image.open(io.BytesIO(local.mask))))
        assert [row["class_name"] for row in remote.rows] == list(CLASS_NAMES[1:])
        assert remote.rows == local.rows

    # Shared storage: the workers read the slices from the stack themselves.
    shared = segment_paths(
        units[:SLICES],
        four_class_model,
        settings,
        shared_storage=True,
        output_dir=tmp_path / "out",
        workers=1,
    )
    for result in shared:
        assert result.mask == results[result.name].mask  # slice masks still come back
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
