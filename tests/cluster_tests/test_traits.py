"""Root traits on shapes drawn analytically, whose true values are known.

Tubes are drawn as the pixels whose centres lie within r of a centreline (a segment
with round ends, an arc, two crossing segments, a branch). Tolerances, per the traits'
documentation: length ±3 %, mean diameter ±0.5 px for r ≥ 2, volume ±8 %. A drawn
tube is itself off the true one by up to 0.35 px in width at 45° (the pixel grid there
is coarse), so diameter and volume are compared with the truth as a mean over four
sub-pixel placements, and each placement's diameter with its own drawn width too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from cluster.measure.catalogue import trait_columns
from cluster.measure.distance import distance_at
from cluster.measure.regions import region_table
from cluster.measure.tables import IMAGE_KINDS, measure_classes, measure_mask
from cluster.measure.traits import TraitSettings

LENGTH_TOLERANCE = 0.03
DIAMETER_TOLERANCE = 0.5  # px
VOLUME_TOLERANCE = 0.08
OWN_WIDTH_TOLERANCE = 0.25  # px: a placement's diameter against its own drawn width
ANGLE_TOLERANCE = 1.5  # degrees
PLACEMENTS = ((0.1, 0.3), (0.35, 0.8), (0.6, 0.15), (0.85, 0.55))
TUBE_LENGTH = 600.0
CANVAS = 640


def _distance_to_segment(shape: tuple[int, int], start: np.ndarray, end: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    along = end - start
    t = ((rows - start[0]) * along[0] + (cols - start[1]) * along[1]) / float(along @ along)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(rows - (start[0] + t * along[0]), cols - (start[1] + t * along[1]))


def tube(
    shape: tuple[int, int], centre: np.ndarray, angle: float, length: float, radius: float
) -> np.ndarray:
    """A straight tube with round ends, ``angle`` degrees up from the horizontal."""
    half = 0.5 * length * np.array([-math.sin(math.radians(angle)), math.cos(math.radians(angle))])
    return _distance_to_segment(shape, centre - half, centre + half) <= radius


def _raster_width(mask: np.ndarray, radius: float, length: float) -> float:
    """The drawn tube's own mean width: its area (round ends taken off) over its length."""
    return (np.count_nonzero(mask) - math.pi * radius**2) / length


@pytest.mark.parametrize("radius", [2.0, 3.0, 5.0])
@pytest.mark.parametrize("angle", [0, 30, 45, 60, 90])
def test_straight_tubes_length_diameter_volume(angle: int, radius: float) -> None:
    diameters, volumes = [], []
    for offset in PLACEMENTS:
        centre = np.array([CANVAS / 2, CANVAS / 2]) + offset
        mask = tube((CANVAS, CANVAS), centre, angle, TUBE_LENGTH, radius)
        row = measure_mask(mask, kinds=("length", "diameter", "angles"))
        assert row["length_px"] == pytest.approx(TUBE_LENGTH, rel=LENGTH_TOLERANCE)
        own_width = _raster_width(mask, radius, TUBE_LENGTH)
        assert row["diameter_mean_px"] == pytest.approx(own_width, abs=OWN_WIDTH_TOLERANCE)
        assert row["angle_mean_deg"] == pytest.approx(angle, abs=ANGLE_TOLERANCE)
        diameters.append(row["diameter_mean_px"])
        volumes.append(row["root_volume_px3"])
    assert np.mean(diameters) == pytest.approx(2 * radius, abs=DIAMETER_TOLERANCE)
    true_volume = math.pi * radius**2 * TUBE_LENGTH
    assert np.mean(volumes) == pytest.approx(true_volume, rel=VOLUME_TOLERANCE)


def test_walk_length_is_exact_on_axes_and_long_at_30_degrees() -> None:
    """Steps of 1 and √2 (RhizoVision's rule) are right along rows, columns and diagonals,
    and ~7 % long at 30°, where the orientation-fair length stays within 3 %."""
    centre = np.array([CANVAS / 2 + 0.3, CANVAS / 2 + 0.6])
    for angle, excess in ((0, 0.0), (45, 0.0), (90, 0.0), (30, 0.07)):
        row = measure_mask(
            tube((CANVAS, CANVAS), centre, angle, TUBE_LENGTH, 3.0), kinds=("length",)
        )
        assert row["length_walk_px"] / TUBE_LENGTH - 1 == pytest.approx(excess, abs=0.015)


def arc_mask(bend_radius: float, radius: float, sweep: float) -> tuple[np.ndarray, float]:
    """A tube along an arc of ``sweep`` radians, and the arc's length."""
    size = int(2 * bend_radius + 4 * radius + 20)
    rows, cols = np.mgrid[:size, :size].astype(np.float64)
    centre = size / 2 + 0.27
    angle = np.mod(np.arctan2(rows - centre, cols - centre), 2 * math.pi)
    across = np.abs(np.hypot(rows - centre, cols - centre) - bend_radius)
    on_arc = angle <= sweep
    ends = [
        np.hypot(
            rows - (centre + bend_radius * math.sin(a)), cols - (centre + bend_radius * math.cos(a))
        )
        for a in (0.0, sweep)
    ]
    distance = np.where(on_arc, across, np.minimum(*ends))
    return distance <= radius, bend_radius * sweep


@pytest.mark.parametrize("radius", [2.5, 4.0])
def test_a_curved_tube(radius: float) -> None:
    mask, length = arc_mask(150.0, radius, 1.5 * math.pi)
    row = measure_mask(mask, kinds=("length", "diameter", "tips"))
    assert row["length_px"] == pytest.approx(length, rel=LENGTH_TOLERANCE)
    assert row["diameter_mean_px"] == pytest.approx(2 * radius, abs=DIAMETER_TOLERANCE)
    assert row["root_volume_px3"] == pytest.approx(
        math.pi * radius**2 * length, rel=VOLUME_TOLERANCE
    )
    assert (row["tips"], row["branch_points"]) == (2, 0)


def test_crossing_tubes_add_their_lengths() -> None:
    shape = (CANVAS, CANVAS)
    centre = np.array([CANVAS / 2 + 0.4, CANVAS / 2 + 0.7])
    mask = tube(shape, centre, 20, 500.0, 3.0) | tube(shape, centre, 100, 400.0, 3.0)
    row = measure_mask(mask, kinds=("length", "diameter", "tips"))
    assert row["length_px"] == pytest.approx(900.0, rel=LENGTH_TOLERANCE)
    assert row["diameter_mean_px"] == pytest.approx(6.0, abs=DIAMETER_TOLERANCE)
    assert row["tips"] == 4
    assert row["branch_points"] in (1, 2)  # a crossing may thin to two close junctions


def test_a_branch_is_one_junction_and_its_length_counts() -> None:
    shape = (CANVAS, CANVAS)
    main_start, main_end = np.array([40.3, 320.6]), np.array([600.3, 320.6])
    junction = np.array([320.3, 320.6])
    branch_end = junction + 200 * np.array([math.sin(math.radians(45)), math.cos(math.radians(45))])
    main = _distance_to_segment(shape, main_start, main_end) <= 4.0
    branch = _distance_to_segment(shape, junction, branch_end) <= 2.0
    row = measure_mask(main | branch, kinds=("length", "tips", "diameter"))
    assert row["length_px"] == pytest.approx(760.0, rel=LENGTH_TOLERANCE)
    assert (row["tips"], row["branch_points"]) == (3, 1)
    assert row["branching_frequency_per_px"] == pytest.approx(1 / row["length_px"])
    # Diameter classes: the branch (4 px) and the main root (8 px) apart.
    split = measure_mask(
        main | branch, kinds=("diameter",), traits=TraitSettings(diameter_classes=(6.0,))
    )
    assert split["length_px_diameter_0_to_6"] == pytest.approx(200.0 - 4.0, rel=0.06)
    assert split["length_px_diameter_over_6"] == pytest.approx(560.0, rel=LENGTH_TOLERANCE)
    thin_volume = split["root_volume_px3_diameter_0_to_6"]
    assert thin_volume == pytest.approx(math.pi * 4.0 * 196.0, rel=0.15)
    parts = [split[f"root_volume_px3{s}"] for s in ("_diameter_0_to_6", "_diameter_over_6")]
    assert sum(parts) == pytest.approx(split["root_volume_px3"])


def test_pruning_removes_spurs_but_not_the_root() -> None:
    shape = (200, 420)
    root = _distance_to_segment(shape, np.array([100.3, 20.0]), np.array([100.3, 400.0])) <= 4.0
    noisy = root.copy()
    for col in range(60, 380, 40):  # bumps on the edge grow short skeleton spurs
        noisy |= _distance_to_segment(shape, np.array([103.0, col]), np.array([108.0, col])) <= 1.5
    plain = measure_mask(noisy, kinds=("length", "tips"))
    pruned = measure_mask(noisy, kinds=("length", "tips"), traits=TraitSettings(prune_px=10))
    assert plain["tips"] > 2
    assert (pruned["tips"], pruned["branch_points"]) == (2, 0)
    assert pruned["length_px"] == pytest.approx(380.0, rel=LENGTH_TOLERANCE)
    alone = measure_mask(root, kinds=("length", "tips"), traits=TraitSettings(prune_px=50))
    assert alone["tips"] == 2  # a root with two tips is not a side branch, however short


def test_angle_classes_of_shallow_medium_and_steep_tubes() -> None:
    shape = (CANVAS, CANVAS)
    centre = np.array([CANVAS / 2 + 0.2, CANVAS / 2 + 0.4])
    for angle, share in ((10, "shallow"), (45, "medium"), (80, "steep")):
        row = measure_mask(tube(shape, centre, angle, 400.0, 2.0), kinds=("angles",))
        assert row[f"angle_{share}_fraction"] == pytest.approx(1.0)
    both = tube(shape, centre, 0, 400.0, 2.0) | tube(shape, centre, 90, 200.0, 2.0)
    row = measure_mask(both, kinds=("angles",))
    assert row["angle_steep_fraction"] == pytest.approx(1 / 3, abs=0.03)
    assert row["angle_mean_deg"] == pytest.approx(30.0, abs=3.0)


def test_outline_of_an_l_shape() -> None:
    mask = np.zeros((120, 100), dtype=bool)
    mask[10:20, 10:90] = True  # 80 across, 10 down
    mask[10:110, 10:20] = True  # 10 across, 100 down
    row = measure_mask(mask, kinds=("shape",), px_per_mm=10.0)
    hull = 80 * 100 - 0.5 * (80 - 10) * (100 - 10)
    assert row["network_area_px2"] == np.count_nonzero(mask)
    assert row["convex_area_px2"] == pytest.approx(hull)
    assert row["solidity"] == pytest.approx(np.count_nonzero(mask) / hull)
    assert (row["width_px"], row["depth_px"], row["width_depth_ratio"]) == (80, 100, 0.8)
    assert row["convex_area_mm2"] == pytest.approx(hull / 100)
    assert row["width_mm"] == pytest.approx(8.0)


def test_units_in_mm_follow_the_scale() -> None:
    mask = tube((300, 300), np.array([150.3, 150.6]), 30, 200.0, 4.0)
    px = measure_mask(mask, kinds=("all",))
    mm = measure_mask(mask, kinds=("all",), px_per_mm=4.0)
    assert mm["length_mm"] == pytest.approx(px["length_px"] / 4)
    assert mm["diameter_median_mm"] == pytest.approx(px["diameter_median_px"] / 4)
    assert mm["surface_area_mm2"] == pytest.approx(px["surface_area_px2"] / 16)
    assert mm["root_volume_mm3"] == pytest.approx(px["root_volume_px3"] / 64)
    assert mm["branching_frequency_per_mm"] == pytest.approx(px["branching_frequency_per_px"] * 4)
    assert list(mm) == trait_columns(IMAGE_KINDS, px_per_mm=4.0)


def test_each_region_and_each_class_gets_its_own_traits() -> None:
    shape = (200, 400)
    thin = _distance_to_segment(shape, np.array([50.3, 20.0]), np.array([50.3, 380.0])) <= 2.0
    thick = _distance_to_segment(shape, np.array([150.3, 20.0]), np.array([150.3, 220.0])) <= 5.0
    table = region_table(thin | thick, traits=TraitSettings())
    assert list(table["length_px"]) == pytest.approx([360.0, 200.0], rel=LENGTH_TOLERANCE)
    assert list(table["diameter_mean_px"]) == pytest.approx([4.0, 10.0], abs=DIAMETER_TOLERANCE)
    assert list(table["tips"]) == [2, 2]
    classes = thin.astype(np.uint8) + 2 * thick.astype(np.uint8)
    rows = measure_classes(classes, kinds=("length", "diameter"), classes=("bg", "fine", "coarse"))
    assert [row["class_name"] for row in rows] == ["fine", "coarse"]
    assert rows[0]["diameter_mean_px"] == pytest.approx(4.0, abs=DIAMETER_TOLERANCE)
    assert rows[1]["length_px"] == pytest.approx(200.0, rel=LENGTH_TOLERANCE)


def test_distance_at_the_skeleton_is_the_euclidean_distance_map() -> None:
    rng = np.random.default_rng(0)
    mask = ndimage.binary_opening(rng.random((120, 150)) > 0.35)
    rows, cols = np.nonzero(mask)
    expected = ndimage.distance_transform_edt(mask)[rows, cols]
    assert np.array_equal(distance_at(mask, rows, cols), expected)


def test_an_empty_mask_has_no_diameter_and_no_length() -> None:
    row = measure_mask(np.zeros((20, 20), np.uint8), kinds=("all",))
    assert row["length_px"] == 0 and row["tips"] == 0 and row["network_area_px2"] == 0
    assert math.isnan(row["diameter_mean_px"]) and math.isnan(row["angle_mean_deg"])
