"""Root traits from the command line: the tidy table, its units, options, stacks, and the
same numbers whether measured while segmenting or from the masks afterwards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cluster.io.mask_formats import encode_label_stack, encode_mask
from rptui.cli import main
from tests.rptui_tests.screen_helpers import make_workspace, run_cli

MM_PER_INCH = 25.4


def _tube_mask(radius: int, length: int) -> np.ndarray:
    mask = np.zeros((60, 120), dtype=np.uint8)
    mask[30 - radius : 30 + radius, 10 : 10 + length] = 1
    return mask


@pytest.fixture
def masks(tmp_path: Path) -> Path:
    folder = tmp_path / "masks"
    folder.mkdir()
    for index, (radius, length) in enumerate(((2, 60), (4, 90))):
        (folder / f"plant_{index}.png").write_bytes(encode_mask(_tube_mask(radius, length)))
    return folder


def test_list_traits_names_every_column_with_its_unit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--list-traits"]) == 0
    listed = capsys.readouterr().out
    for name in ("length_px", "length_walk_mm", "diameter_median_mm", "surface_area_px2"):
        assert name in listed
    assert "root_volume_mm3" in listed and "angle_steep_fraction" in listed


def test_every_trait_in_one_row_per_image_with_mm_from_dpi(masks: Path, tmp_path: Path) -> None:
    table_path = tmp_path / "traits.csv"
    dpi = 254.0  # 10 px per mm
    words = ["measure", str(masks), "--dpi", str(dpi), "--diameter-classes", "0.6", "-o"]
    assert main([*words, str(table_path)]) == 0
    table = pd.read_csv(table_path).set_index("file")
    assert list(table.index) == ["plant_0.png", "plant_1.png"]
    assert table.loc["plant_1.png", "diameter_mean_px"] == pytest.approx(8.0, abs=0.5)
    scale = dpi / MM_PER_INCH
    np.testing.assert_allclose(table["diameter_mean_mm"], table["diameter_mean_px"] / scale)
    np.testing.assert_allclose(table["root_volume_mm3"], table["root_volume_px3"] / scale**3)
    # The thin root's length is below 0.6 mm across, the thick one's above.
    assert table.loc["plant_0.png", "length_mm_diameter_0_to_0.6"] == pytest.approx(
        table.loc["plant_0.png", "length_mm"]
    )
    assert table.loc["plant_1.png", "length_mm_diameter_0_to_0.6"] == pytest.approx(0, abs=0.3)


def test_ten_diameter_classes_split_every_trait_into_eleven(masks: Path, tmp_path: Path) -> None:
    table_path = tmp_path / "traits.csv"
    thresholds = ",".join(str(n) for n in range(1, 11))  # 1..10 px: the most allowed
    words = ["measure", str(masks), "--diameter-classes", thresholds, "-o", str(table_path)]
    assert main(words) == 0
    table = pd.read_csv(table_path)
    for total in ("length_px", "projected_area_px2", "surface_area_px2", "root_volume_px3"):
        parts = [name for name in table.columns if name.startswith(f"{total}_diameter_")]
        assert len(parts) == 11 and parts[-1] == f"{total}_diameter_over_10"
        np.testing.assert_allclose(table[parts].sum(axis=1), table[total])
    # None of the 8-px root's length is in the classes up to 6 px.
    thick = table.set_index("file").loc["plant_1.png"]
    thin_parts = [f"length_px_diameter_{n}_to_{n + 1}" for n in range(6)]
    assert thick[thin_parts].sum() == 0 and thick["length_px"] > 80


def test_regions_get_their_traits(masks: Path, tmp_path: Path) -> None:
    table_path = tmp_path / "regions.csv"
    words = ["measure", str(masks), "--kind", "regions", "--px-per-mm", "10"]
    assert main([*words, "-o", str(table_path)]) == 0
    table = pd.read_csv(table_path)
    assert list(table["file"]) == ["plant_0.png", "plant_1.png"]
    np.testing.assert_allclose(table["root_volume_mm3"], table["root_volume_px3"] / 1000)
    np.testing.assert_allclose(table["surface_area_mm2"], table["surface_area_px2"] / 100)
    assert table["diameter_mean_px"].tolist() == pytest.approx([4.0, 8.0], abs=0.5)
    assert table["tips"].tolist() == [2, 2]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--dpi", "300", "--px-per-mm", "4"], "not both"),
        (["--diameter-classes", "2,1"], "must rise"),
        (["--diameter-classes", "a"], "thresholds are numbers"),
        (["--diameter-classes", "0,1"], "must be positive"),
        (["--diameter-classes", ",".join(str(n) for n in range(1, 12))], "at most 10"),
        (["--prune", "-1"], "--prune"),
        (["--angle-window", "0"], "--angle-window"),
        (["--angle-window", "1000000"], "1 to 50"),
        (["--kind", "girth"], "unknown measurement kind girth"),
    ],
)
def test_bad_trait_options_are_one_line_errors(
    masks: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    words: list[str],
    message: str,
) -> None:
    assert main(["measure", str(masks), "-o", str(tmp_path / "t.csv"), *words]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_correlate_takes_a_trait_column_of_the_same_name(
    masks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    for index, path in enumerate((first, second)):
        folder = tmp_path / f"copy{index}"
        folder.mkdir()
        for n, (radius, length) in enumerate(((1, 20), (2, 50), (3, 70), (5, 100))):
            mask = _tube_mask(radius + index, length)
            (folder / f"m{n}.png").write_bytes(encode_mask(mask))
        assert main(["measure", str(folder), "-o", str(path)]) == 0
    capsys.readouterr()
    words = ["correlate", str(first), str(second), "--auto-column", "surface_area_px2"]
    assert main([*words, "--no-text-plot"]) == 0
    printed = capsys.readouterr().out
    assert "matched 4 rows" in printed and "surface_area_px2" in printed


def test_stacks_sum_their_slices_beside_their_voxels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "stacks"
    folder.mkdir()
    slices = np.zeros((3, 60, 120), dtype=np.uint8)
    for z in range(3):
        slices[z, 20:24, 10 : 40 + 20 * z] = 1  # class 1: a thin root, longer each slice
        slices[z, 40:48, 30:90] = 2  # class 2: a thick one
    (folder / "scan.tif").write_bytes(encode_label_stack(slices, classes=("bg", "fine", "coarse")))
    table_path, volumes_path = tmp_path / "t.csv", tmp_path / "v.csv"
    words = ["measure", str(folder), "--kind", "length,shape", "--voxel-size", "0.1,0.1,0.5"]
    assert main([*words, "-o", str(table_path), "--volume-table", str(volumes_path)]) == 0
    assert "6 rows, one per slice and class" in capsys.readouterr().out
    per_slice = pd.read_csv(table_path)
    volumes = pd.read_csv(volumes_path).set_index("class_name")
    for name in ("fine", "coarse"):
        rows = per_slice[per_slice["class_name"] == name]
        assert len(rows) == 3 and volumes.loc[name, "slices"] == 3
        assert volumes.loc[name, "length_px"] == pytest.approx(rows["length_px"].sum())
        assert volumes.loc[name, "network_area_px2"] == volumes.loc[name, "voxels"]
        assert volumes.loc[name, "voxels"] == rows["area_px"].sum()


def test_measuring_while_segmenting_gives_the_numbers_measured_from_the_masks(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path / "ws", count=2, height=72, width=96, with_model=True)
    source, out = workspace.dataset_dir("roots"), tmp_path / "masks"
    options = ["--prune", "2", "--diameter-classes", "2,4", "--px-per-mm", "8"]
    segment = ["--in-process", "segment", str(source), str(out), "--model", "p", "--no-tta"]
    regions_while = tmp_path / "regions_while.csv"
    words = [*segment, "--measure", "all", "--regions-table", str(regions_while), *options]
    assert run_cli(workspace.root, *words) == 0
    after, regions_after = tmp_path / "after.csv", tmp_path / "regions_after.csv"
    assert run_cli(workspace.root, "measure", str(out), *options, "-o", str(after)) == 0
    words = ["measure", str(out), "--kind", "regions", *options, "-o", str(regions_after)]
    assert run_cli(workspace.root, *words) == 0
    for made, measured in ((out / "measurements.csv", after), (regions_while, regions_after)):
        while_segmenting = pd.read_csv(made)
        from_masks = pd.read_csv(measured)
        assert len(from_masks) and from_masks["length_px"].sum() > 0
        shared = [name for name in from_masks.columns if name in while_segmenting.columns]
        assert len(shared) == len(from_masks.columns)  # every trait column in both
        pd.testing.assert_frame_equal(while_segmenting[shared], from_masks[shared])
