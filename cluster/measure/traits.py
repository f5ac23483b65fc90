"""Root traits of a mask, per image or per region: length, diameter, areas, volume, angles.

Everything is read off the skeleton (:mod:`cluster.measure.length`), one value per
skeleton pixel, and summed or averaged over the pixels of an image or of each region:

- ``ℓ``: the length a pixel stands for (orientation-fair, summing to ``length``);
- ``d``: the diameter there, the width of the mask across the root
  (:mod:`cluster.measure.width`);
- ``a``: the angle of the local direction from the horizontal
  (:mod:`cluster.measure.orientation`).

Projected area is Σ d·ℓ, surface area Σ π·d·ℓ and volume Σ π·d²/4·ℓ (each pixel a short
cylinder); diameter classes split those sums, and the length, by each pixel's diameter.
Short side branches can be pruned first (:mod:`cluster.measure.prune`). The outline
traits (network and convex area, width, depth) come from the mask itself
(:mod:`cluster.measure.shape`). :mod:`cluster.measure.catalogue` names the columns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from cluster.measure.catalogue import (
    CLASS_TRAITS,
    SHALLOW_MAX_DEG,
    STEEP_MIN_DEG,
    WHOLE_NUMBERS,
    Values,
    in_units,
)
from cluster.measure.distance import distance_at
from cluster.measure.grouped import medians_and_maxima, per_group, ratio
from cluster.measure.length import (
    SkeletonGraph,
    junction_ids,
    pixel_lengths,
    skeleton_graph,
    skeleton_of,
)
from cluster.measure.orientation import (
    ANGLE_WINDOW,
    degrees_from_horizontal,
    skeleton_orientation,
)
from cluster.measure.prune import pruned_skeleton
from cluster.measure.shape import convex_area, extent, region_shapes
from cluster.measure.width import widths_across

SKELETON_KINDS = frozenset({"length", "tips", "diameter", "angles"})
REGION_KINDS = (*sorted(SKELETON_KINDS), "shape")  # a region's count is 1: not measured


@dataclass(frozen=True)
class TraitSettings:
    """How the skeleton traits are measured (beyond the scale and the size filter).

    Attributes:
        prune_px: side branches no longer than this (px) are removed first; 0 keeps all.
        diameter_classes: thresholds of the diameter classes, ascending: in mm when
            pixels per mm are known, else in px; () for no classes.
        angle_window_px: radius (px) of the skeleton fitted for each local direction.
    """

    prune_px: float = 0.0
    diameter_classes: tuple[float, ...] = ()
    angle_window_px: int = ANGLE_WINDOW


class SkeletonPixels:
    """A mask's skeleton and what is known at each of its pixels, computed when first used.

    The work is done on the foreground's bounding box (one pixel wider where the image
    allows); ``origin`` is where that box starts in the image.
    """

    def __init__(self, foreground: np.ndarray, settings: TraitSettings) -> None:
        foreground = np.asarray(foreground, dtype=bool)
        rows = np.flatnonzero(foreground.any(axis=1))
        cols = np.flatnonzero(foreground.any(axis=0))
        if rows.size:
            top, left = max(int(rows[0]) - 1, 0), max(int(cols[0]) - 1, 0)
            foreground = foreground[top : rows[-1] + 2, left : cols[-1] + 2]
        else:
            top = left = 0
        self.foreground = foreground
        self.origin = (top, left)
        self.settings = settings

    @cached_property
    def skeleton(self) -> np.ndarray:
        """The bool skeleton, its short side branches pruned when asked."""
        skeleton = skeleton_of(self.foreground)
        if self.settings.prune_px <= 0:
            return skeleton
        return pruned_skeleton(skeleton, skeleton_graph(skeleton), self.settings.prune_px)

    @cached_property
    def graph(self) -> SkeletonGraph:
        """The skeleton's m-adjacency graph."""
        return skeleton_graph(self.skeleton)

    @cached_property
    def length(self) -> np.ndarray:
        """ℓ: the orientation-fair length each pixel stands for."""
        return pixel_lengths(self.graph)

    @cached_property
    def walk(self) -> np.ndarray:
        """The length each pixel stands for with steps of 1 and √2."""
        return pixel_lengths(self.graph, walk=True)

    @cached_property
    def junctions(self) -> np.ndarray:
        """The junction (1..n) each pixel belongs to, or 0."""
        return junction_ids(self.graph)

    @cached_property
    def theta(self) -> np.ndarray:
        """The local direction at each pixel (radians)."""
        window = self.settings.angle_window_px
        return skeleton_orientation(self.skeleton, self.graph.rows, self.graph.cols, window=window)

    @cached_property
    def diameter(self) -> np.ndarray:
        """d: the width across the root at each pixel."""
        rows, cols = self.graph.rows, self.graph.cols
        distance = distance_at(self.foreground, rows, cols)
        return widths_across(self.foreground, rows, cols, self.theta, distance)


def _length_traits(pixels: SkeletonPixels, group: np.ndarray, groups: int) -> Values:
    return {
        "skeleton_pixels": per_group(groups, group),
        "length": per_group(groups, group, pixels.length),
        "length_walk": per_group(groups, group, pixels.walk),
    }


def _tip_traits(pixels: SkeletonPixels, group: np.ndarray, groups: int) -> Values:
    graph = pixels.graph
    tips = per_group(groups, group[graph.degree == 1])
    junction = pixels.junctions
    at = junction > 0
    span = int(junction.max(initial=0)) + 1
    pairs = np.unique(group[at].astype(np.int64) * span + junction[at])
    branch = per_group(groups, (pairs // span).astype(np.intp))
    length = per_group(groups, group, pixels.length)
    return {"tips": tips, "branch_points": branch, "branching_frequency": ratio(branch, length)}


def _diameter_traits(
    pixels: SkeletonPixels, group: np.ndarray, groups: int, thresholds_px: Sequence[float]
) -> Values:
    diameter, length = pixels.diameter, pixels.length
    count = per_group(groups, group)
    median, largest = medians_and_maxima(diameter, group, groups)
    values: Values = {
        "diameter_mean": ratio(per_group(groups, group, diameter), count),
        "diameter_median": median,
        "diameter_max": largest,
    }
    parts = {
        "length": length,
        "projected_area": diameter * length,
        "surface_area": math.pi * diameter * length,
        "root_volume": (math.pi / 4.0) * diameter * diameter * length,
    }
    for stem in ("projected_area", "surface_area", "root_volume"):
        values[stem] = per_group(groups, group, parts[stem])
    if thresholds_px:
        classes = len(thresholds_px) + 1
        which = group * classes + np.searchsorted(np.asarray(thresholds_px), diameter, "left")
        for stem in CLASS_TRAITS:
            split = per_group(groups * classes, which, parts[stem]).reshape(groups, classes)
            for index in range(classes):
                values[f"{stem}#{index}"] = split[:, index]
    return values


def _angle_traits(pixels: SkeletonPixels, group: np.ndarray, groups: int) -> Values:
    angle, length = degrees_from_horizontal(pixels.theta), pixels.length
    total = per_group(groups, group, length)

    def share(chosen: np.ndarray) -> np.ndarray:
        return ratio(per_group(groups, group[chosen], length[chosen]), total)

    return {
        "angle_mean_deg": ratio(per_group(groups, group, angle * length), total),
        "angle_shallow_fraction": share(angle <= SHALLOW_MAX_DEG),
        "angle_medium_fraction": share((angle > SHALLOW_MAX_DEG) & (angle <= STEEP_MIN_DEG)),
        "angle_steep_fraction": share(angle > STEEP_MIN_DEG),
    }


def skeleton_traits(
    pixels: SkeletonPixels,
    kinds: Sequence[str],
    *,
    group: np.ndarray | None = None,
    groups: int = 1,
    px_per_mm: float | None = None,
) -> Values:
    """The skeleton traits of ``kinds`` in px, per group of skeleton pixels.

    Args:
        pixels: the mask's skeleton pixels.
        kinds: any of ``length``, ``tips``, ``diameter``, ``angles`` (others are ignored).
        group: the group (0..groups-1) of each skeleton pixel, e.g. its region; None:
            one group, the whole mask.
        groups: how many groups.
        px_per_mm: the scale the diameter class thresholds are given in (None: px).
    """
    if group is None:
        group = np.zeros(pixels.graph.pixels, dtype=np.intp)
    values: Values = {}
    if "length" in kinds:
        values.update(_length_traits(pixels, group, groups))
    if "tips" in kinds:
        values.update(_tip_traits(pixels, group, groups))
    if "diameter" in kinds:
        scale = px_per_mm or 1.0
        thresholds = [value * scale for value in pixels.settings.diameter_classes]
        values.update(_diameter_traits(pixels, group, groups, thresholds))
    if "angles" in kinds:
        values.update(_angle_traits(pixels, group, groups))
    return values


def outline_traits(foreground: np.ndarray) -> Values:
    """Network area, convex area, solidity, width, depth, width/depth of a mask (px)."""
    area = float(np.count_nonzero(foreground))
    hull = convex_area(foreground)
    width, depth = extent(foreground)
    return _outline(np.array([area]), np.array([hull]), np.array([width]), np.array([depth]))


def region_outline_traits(labels: np.ndarray, count: int, area: np.ndarray) -> Values:
    """The outline traits of each region 1..count of a label image (px)."""
    shapes = region_shapes(labels, count)
    return _outline(area, shapes["convex_area"], shapes["width"], shapes["depth"])


def _outline(area: np.ndarray, hull: np.ndarray, width: np.ndarray, depth: np.ndarray) -> Values:
    return {
        "network_area": area.astype(np.float64),
        "convex_area": hull,
        "solidity": ratio(area.astype(np.float64), hull),
        "width": width.astype(np.float64),
        "depth": depth.astype(np.float64),
        "width_depth_ratio": ratio(width.astype(np.float64), depth.astype(np.float64)),
    }


def region_traits(
    labels: np.ndarray,
    count: int,
    area: np.ndarray,
    *,
    settings: TraitSettings,
    px_per_mm: float | None = None,
    pixels: SkeletonPixels | None = None,
) -> Values:
    """Every trait of each region 1..count of a label image, as named columns.

    Args:
        labels: HxW regions 1..count (0 background).
        count: how many regions.
        area: each region's pixels.
        settings: pruning, diameter classes, angle window.
        px_per_mm: adds mm columns (and puts diameter classes in mm).
        pixels: the skeleton of ``labels > 0``, where already made.
    """
    pixels = pixels or SkeletonPixels(labels > 0, settings)
    top, left = pixels.origin
    group = labels[pixels.graph.rows + top, pixels.graph.cols + left].astype(np.intp) - 1
    kinds = REGION_KINDS
    values = skeleton_traits(pixels, kinds, group=group, groups=count, px_per_mm=px_per_mm)
    values.update(region_outline_traits(labels, count, area))
    for stem in WHOLE_NUMBERS:
        if stem in values:
            values[stem] = values[stem].astype(np.int64)
    return in_units(values, px_per_mm=px_per_mm, thresholds=settings.diameter_classes)
