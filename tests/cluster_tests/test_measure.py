"""Measurements of masks: hand-computed values, orientation-fair length, real label images."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import draw
from skimage.measure import regionprops_table

from cluster.io.mask_formats import encode_mask
from cluster.measure.files import measure_file, measure_files, read_measurable_mask
from cluster.measure.length import fair_length, skeleton_graph, skeleton_length
from cluster.measure.regions import count_regions, region_table
from cluster.measure.tables import (
    check_kinds,
    length_row,
    measure_all,
    measure_mask,
    tips_and_branches,
)

NUCLEI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nuclei"
TOLERANCE = 0.05  # orientation-fair length within 5 % of the drawn centreline
PROPS = ("centroid", "equivalent_diameter_area", "area", "perimeter", "eccentricity")


def _canvas(height: int = 20, width: int = 20) -> np.ndarray:
    return np.zeros((height, width), dtype=np.uint8)


def test_straight_line_length_tips_and_count_by_hand() -> None:
    mask = _canvas()
    mask[5, 2:12] = 1  # 10 pixels, 9 axis steps
    row = measure_mask(mask, kinds=("length", "count", "tips"))
    assert row["skeleton_pixels"] == 10
    assert row["length_px"] == pytest.approx(9 * 0.980)
    assert (row["tips"], row["branch_points"], row["count"]) == (2, 0, 1)


def test_diagonal_line_weighs_diagonal_steps() -> None:
    mask = _canvas()
    rr = np.arange(2, 9)
    mask[rr, rr] = 1  # 7 pixels, 6 diagonal steps
    row = length_row(mask, px_per_mm=2.0)
    assert row["skeleton_pixels"] == 7
    assert row["length_px"] == pytest.approx(6 * 1.406)
    assert row["length_mm"] == pytest.approx(6 * 1.406 / 2.0)


def test_corner_costs_a_corner_and_no_triangle_is_counted_twice() -> None:
    mask = _canvas()
    mask[5, 5:11] = 1  # L: 6 across and 5 more down from its end
    mask[5:11, 10] = 1
    # Given as a skeleton, the corner pixel stays: 10 axis steps, one corner; the
    # diagonal across the corner's little triangle is not a step of its own.
    graph = skeleton_graph(mask.astype(bool))
    assert (graph.axis_steps, graph.diagonal_steps, graph.corners) == (10, 0, 1)
    assert fair_length(graph) == pytest.approx(10 * 0.980 - 0.091)
    # Skeletonised, the corner is cut: 8 axis steps, 1 diagonal, 2 corners.
    row = measure_mask(mask, kinds=("length", "tips"))
    assert row["skeleton_pixels"] == 10
    assert row["length_px"] == pytest.approx(8 * 0.980 + 1.406 - 2 * 0.091)
    assert (row["tips"], row["branch_points"]) == (2, 0)


def test_cross_has_four_tips_and_one_branch_point() -> None:
    mask = _canvas()
    mask[10, 4:17] = 1
    mask[4:17, 10] = 1
    assert tips_and_branches(mask) == {"tips": 4, "branch_points": 1}
    assert length_row(mask)["length_px"] == pytest.approx(24 * 0.980)


def test_min_area_filter_applies_to_every_measurement() -> None:
    mask = _canvas(30, 30)
    mask[2:4, 2:4] = 1  # 4 px: dropped with min_area 5
    mask[10, 5:25] = 1  # 20 px line: kept
    assert count_regions(mask) == 2
    assert count_regions(mask, min_area=5) == 1
    row = measure_mask(mask, kinds=("length", "count", "tips"), min_area=5)
    assert (row["count"], row["skeleton_pixels"], row["tips"]) == (1, 20, 2)
    assert len(region_table(mask, min_area=5)) == 1


def test_region_table_by_hand_and_in_mm() -> None:
    mask = _canvas()
    mask[2:5, 3:7] = 1  # a 3x4 rectangle
    mask[12, 12] = 1  # a single pixel
    table = region_table(mask, file="a.png")
    rect, dot = table.iloc[0], table.iloc[1]
    assert list(table["file"]) == ["a.png", "a.png"]
    assert (rect["x"], rect["y"], rect["area"]) == (4.5, 3.0, 12)
    assert rect["diameter"] == pytest.approx(math.sqrt(4 * 12 / math.pi))
    # Row variance 2/3, column variance 5/4: eccentricity from their ratio.
    assert rect["eccentricity"] == pytest.approx(math.sqrt(1 - (2 / 3) / (5 / 4)))
    assert (dot["area"], dot["eccentricity"]) == (1, 0.0)
    in_mm = region_table(mask, px_per_mm=2.0)
    assert in_mm["area"].iloc[0] == pytest.approx(3.0)
    assert in_mm["diameter"].iloc[0] == pytest.approx(rect["diameter"] / 2)
    assert set(in_mm["unit"]) == {"mm"}


def test_multi_class_mask_gives_regions_per_class() -> None:
    mask = _canvas()
    mask[1:4, 1:4] = 1
    mask[1:4, 4:8] = 2  # touches class 1 but is another class
    mask[10:12, 10:12] = 2
    table = region_table(mask)
    assert list(table["class"]) == [1, 2, 2]
    assert list(table["area"]) == [9, 12, 4]


def test_region_table_matches_scikit_image_regionprops() -> None:
    rng = np.random.default_rng(3)
    mask = ndimage.binary_opening(rng.random((120, 160)) > 0.5).astype(np.uint8)
    ours = region_table(mask)
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    theirs = regionprops_table(labels, properties=PROPS)
    assert len(ours) == labels.max() > 50
    np.testing.assert_allclose(ours["y"], theirs["centroid-0"])
    np.testing.assert_allclose(ours["x"], theirs["centroid-1"])
    np.testing.assert_allclose(ours["area"], theirs["area"])
    np.testing.assert_allclose(ours["diameter"], theirs["equivalent_diameter_area"])
    np.testing.assert_allclose(ours["perimeter"], theirs["perimeter"], atol=1e-9)
    np.testing.assert_allclose(ours["eccentricity"], theirs["eccentricity"], atol=1e-9)


def _line(angle: float, length: float, width: int, size: int = 400) -> np.ndarray:
    """A straight bar of the given length and width through the centre."""
    mask = _canvas(size, size)
    half_r = -math.sin(math.radians(angle)) * length / 2
    half_c = math.cos(math.radians(angle)) * length / 2
    centre = size / 2
    if width == 1:
        rr, cc = draw.line(
            round(centre - half_r),
            round(centre - half_c),
            round(centre + half_r),
            round(centre + half_c),
        )
    else:
        norm_r, norm_c = half_c / length * width, -half_r / length * width
        rr, cc = draw.polygon(
            [
                centre - half_r + norm_r,
                centre + half_r + norm_r,
                centre + half_r - norm_r,
                centre - half_r - norm_r,
            ],
            [
                centre - half_c + norm_c,
                centre + half_c + norm_c,
                centre + half_c - norm_c,
                centre - half_c - norm_c,
            ],
            shape=mask.shape,
        )
    mask[rr, cc] = 1
    return mask


@pytest.mark.parametrize(("width", "length"), [(1, 150), (3, 150), (5, 300), (9, 300)])
def test_fair_length_of_lines_at_every_angle(width: int, length: float) -> None:
    worst_fair, worst_pixels = 0.0, 0.0
    for angle in range(0, 181, 5):
        pixels, fair = skeleton_length(_line(angle, length, width))
        true = length if width > 1 else _drawn_line_length(angle, length)
        worst_fair = max(worst_fair, abs(fair - true) / true)
        worst_pixels = max(worst_pixels, abs(pixels - true) / true)
    assert worst_fair < TOLERANCE
    assert worst_pixels > 0.25  # pixel counting misses ~29 % of a diagonal line


def _drawn_line_length(angle: float, length: float, size: int = 400) -> float:
    half_r = -math.sin(math.radians(angle)) * length / 2
    half_c = math.cos(math.radians(angle)) * length / 2
    centre = size / 2
    return math.hypot(
        round(centre + half_r) - round(centre - half_r),
        round(centre + half_c) - round(centre - half_c),
    )


def _curve(points: np.ndarray, width: int) -> np.ndarray:
    mask = _canvas(400, 400)
    if width == 1:
        ends = np.round(points).astype(int)
        for (r0, c0), (r1, c1) in itertools.pairwise(ends):
            rr, cc = draw.line(r0, c0, r1, c1)
            mask[rr, cc] = 1
    else:
        for r, c in points[::4]:
            rr, cc = draw.disk((r, c), width / 2, shape=mask.shape)
            mask[rr, cc] = 1
    return mask


@pytest.mark.parametrize("width", [1, 3, 7])
def test_fair_length_of_circles_and_sine_curves(width: int) -> None:
    t = np.linspace(0, 2 * math.pi, 4000)
    circle = np.stack([200 + 120 * np.sin(t), 200 + 120 * np.cos(t)], axis=1)
    x = np.linspace(30, 370, 4000)
    sine = np.stack([200 + 50 * np.sin(2 * math.pi * x / 150), x], axis=1)
    for points in (circle, sine):
        true = float(np.hypot(*np.diff(points, axis=0).T).sum())
        _, fair = skeleton_length(_curve(points, width))
        assert abs(fair - true) / true < TOLERANCE


def test_5000_pixel_mask_measures_in_reasonable_time() -> None:
    mask = np.zeros((5000, 5000), dtype=np.uint8)
    rr, cc = draw.ellipse(2500, 2500, 1500, 1000, shape=mask.shape)
    mask[rr, cc] = 1
    rr, cc = draw.polygon([100, 100, 110, 110], [100, 4900, 4900, 100])
    mask[rr, cc] = 1  # a long bar along the top
    started = time.perf_counter()
    table = region_table(mask)
    assert time.perf_counter() - started < 10.0
    ellipse = table.sort_values("area").iloc[-1]
    assert ellipse["eccentricity"] == pytest.approx(math.sqrt(1 - (1000 / 1500) ** 2), abs=1e-3)
    assert ellipse["area"] == pytest.approx(math.pi * 1500 * 1000, rel=1e-3)


def test_measure_all_shares_work_and_agrees_with_the_parts() -> None:
    mask = _canvas(60, 60)
    mask[10, 5:50] = 1
    mask[30:40, 30:40] = 1
    row, table = measure_all(mask, file="x.png")
    assert row == measure_mask(mask, kinds=("all",))
    assert len(table) == row["count"] == 2
    # The regions' own traits add up to the image's.
    for name in ("length_px", "tips", "root_volume_px3", "network_area_px2"):
        assert table[name].sum() == pytest.approx(row[name])


def test_measure_files_reads_every_format_and_reports_bad_files(tmp_path: Path) -> None:
    mask = _canvas(64, 64)
    mask[20, 5:60] = 1
    mask[5:40, 30] = 1
    for fmt in ("png", "rootpainter", "rve"):
        (tmp_path / f"{fmt}.png").write_bytes(encode_mask(mask, fmt=fmt))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    paths = sorted(tmp_path.iterdir())
    seen: list[tuple[int, int]] = []
    table = measure_files(
        paths, kinds=("length", "count", "tips"), progress=lambda *a: seen.append(a)
    )
    assert seen[-1] == (4, 4)
    broken = table[table["file"] == "broken.png"].iloc[0]
    assert broken["error"] and broken.isna()["length_px"]
    good = table[table["error"] == ""].drop(columns="file")
    assert len(good) == 3 and (good.nunique() == 1).all()  # same mask, same row
    assert good["tips"].iloc[0] == 4 and good["branch_points"].iloc[0] == 1


def test_measure_file_keeps_class_values_of_label_masks(tmp_path: Path) -> None:
    mask = _canvas()
    mask[1:4, 1:4] = 1
    mask[10:14, 10:14] = 3
    path = tmp_path / "classes.png"
    Image.fromarray(mask).save(path)
    table = measure_file(path, kinds=("regions",), classes=("background", "a", "b", "c"))
    assert list(table["class"]) == [1, 3]


def test_check_kinds_rejects_unknown_and_mixed() -> None:
    assert check_kinds(["length", " count", "length"]) == ("length", "count")
    with pytest.raises(ValueError, match="unknown"):
        check_kinds(["lenght"])
    with pytest.raises(ValueError, match="on its own"):
        check_kinds(["regions", "count"])


@pytest.mark.skipif(not NUCLEI.is_dir(), reason="../shared/data/nuclei is absent")
def test_nuclei_counts_and_areas_match_the_label_images() -> None:
    for path in sorted((NUCLEI / "labels").glob("*.png"))[:8]:
        labels = np.asarray(Image.open(path))
        ids = np.unique(labels)
        ids = ids[ids > 0]
        areas = np.bincount(labels.ravel())[ids]
        objects = region_table(labels, objects=True)
        assert len(objects) == len(ids)
        np.testing.assert_array_equal(np.sort(objects["area"]), np.sort(areas))
        # As a plain mask, touching nuclei merge: fewer regions, the same pixels.
        merged = region_table(labels > 0)
        assert len(merged) <= len(ids)
        assert merged["area"].sum() == areas.sum()
        assert measure_mask(labels, kinds=("count",))["count"] == len(merged)


@pytest.mark.parametrize("classes", [(), ("background", "pore", "root", "grain")])
def test_our_mostly_foreground_masks_are_measured_as_written(
    tmp_path: Path, classes: tuple[str, ...]
) -> None:
    """A mask of ours that is mostly foreground is not taken for a black-on-white one."""
    top = max(len(classes) - 1, 1)
    mask = np.full((30, 40), top, dtype=np.uint8)
    mask[10:20, 5:35] = 0  # a background band: 75 % of the image is foreground
    path = tmp_path / "mask.png"
    path.write_bytes(encode_mask(mask, fmt="png", classes=classes))
    assert np.array_equal(read_measurable_mask(path), mask)
