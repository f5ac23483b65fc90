"""Connected regions of a mask: labelling, the size filter, counts and region properties.

Region properties are computed for all regions of a mask at once with ``np.bincount``
(moments, areas) and one pass of shifted arrays (perimeter), never per region on the
whole image, so masks of 5000×5000 px and more with thousands of regions stay fast.
The values match scikit-image's ``regionprops``: centroid, ``equivalent_diameter_area``,
``area``, ``perimeter`` (4-neighbourhood border, Benkrid–Crookes weights) and
``eccentricity`` (from the eigenvalues of the second central moments). With trait
settings, each region also gets the root traits of :mod:`cluster.measure.traits`
(length, diameter, areas, volume, tips, angles, outline), summed over its own skeleton.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import ndimage

from cluster.measure.traits import SkeletonPixels, TraitSettings, region_traits

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
REGION_COLUMNS = (
    "file",
    "class",
    "x",
    "y",
    "diameter",
    "area",
    "perimeter",
    "eccentricity",
    "unit",
)

# Border codes of the perimeter estimate: centre 1, 4-neighbours 2, diagonals 10.
_PERIMETER_WEIGHTS = np.zeros(50, dtype=np.float64)
_PERIMETER_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1.0
_PERIMETER_WEIGHTS[[21, 33]] = math.sqrt(2.0)
_PERIMETER_WEIGHTS[[13, 23]] = (1.0 + math.sqrt(2.0)) / 2.0


def label_regions(mask: np.ndarray, *, min_area: int = 0) -> tuple[np.ndarray, int]:
    """Label the 8-connected regions of a mask's non-zero pixels, dropping small ones.

    Args:
        mask: HxW array; every non-zero pixel is foreground.
        min_area: regions with fewer pixels than this are removed.

    Returns:
        (HxW int32 labels 0..n, numbered in scan order, and n).
    """
    labels, count = ndimage.label(np.asarray(mask) > 0, structure=EIGHT_CONNECTED)
    labels = labels.astype(np.int32, copy=False)
    if min_area > 1 and count:
        areas = np.bincount(labels.ravel(), minlength=count + 1)
        keep = areas >= min_area
        keep[0] = False
        renumber = np.zeros(count + 1, dtype=np.int32)
        renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        labels = renumber[labels]
        count = int(keep.sum())
    return labels, int(count)


def remove_small_regions(mask: np.ndarray, *, min_area: int) -> np.ndarray:
    """The mask with regions of fewer than ``min_area`` pixels set to 0 (values kept)."""
    mask = np.asarray(mask)
    if min_area <= 1:
        return mask
    labels, _ = label_regions(mask, min_area=min_area)
    return np.where(labels > 0, mask, 0).astype(mask.dtype, copy=False)


def count_regions(mask: np.ndarray, *, min_area: int = 0) -> int:
    """Number of 8-connected foreground regions with at least ``min_area`` pixels."""
    return label_regions(mask, min_area=min_area)[1]


def class_pixel_counts(mask: np.ndarray, *, classes: int) -> np.ndarray:
    """Pixels (voxels for a stack) of each class 0..classes-1 of a label mask of any shape.

    Values at or above ``classes`` are not counted.
    """
    values = np.asarray(mask).ravel()
    if values.dtype not in (np.uint8, np.bool_):
        values = values.astype(np.int64)
    elif values.dtype == np.bool_:
        values = values.view(np.uint8)
    return np.bincount(values, minlength=classes)[:classes]


def _perimeters(labels: np.ndarray, count: int) -> np.ndarray:
    """Perimeter of each region 1..count (scikit-image's 4-neighbourhood estimate).

    A pixel is on a region's border when a 4-neighbour lies outside that region; each
    border pixel is coded by which of its 8 neighbours are border pixels of the same
    region, so touching regions of a label image are measured apart.
    """
    padded = np.pad(labels, 1)
    height, width = labels.shape

    def near(dr: int, dc: int) -> np.ndarray:
        return padded[1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]

    border = labels > 0
    border &= ~(
        (near(-1, 0) == labels)
        & (near(1, 0) == labels)
        & (near(0, -1) == labels)
        & (near(0, 1) == labels)
    )
    border_padded = np.pad(border, 1)
    code = border.astype(np.uint8)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            weight = np.uint8(10 if dr and dc else 2)
            same = border_padded[1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]
            code += weight * (same & (near(dr, dc) == labels))
    where = np.flatnonzero(border)
    weights = _PERIMETER_WEIGHTS[code.ravel()[where]]
    return np.bincount(labels.ravel()[where], weights=weights, minlength=count + 1)[1:]


def label_objects(labels: np.ndarray, *, min_area: int = 0) -> tuple[np.ndarray, int]:
    """Renumber a label image (one value per object) as 1..n, dropping small objects."""
    values, inverse = np.unique(np.asarray(labels), return_inverse=True)
    inverse = inverse.reshape(np.shape(labels)).astype(np.int32)
    if values[0] != 0:  # no background value: every object moves up by one
        inverse += 1
        values = np.concatenate(([0], values))
    areas = np.bincount(inverse.ravel(), minlength=values.size)
    keep = areas >= max(min_area, 1)
    keep[0] = False
    renumber = np.zeros(values.size, dtype=np.int32)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return renumber[inverse], int(keep.sum())


def region_properties(labels: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """Centroid (x, y), area, equivalent diameter, perimeter, eccentricity of each region."""
    inside = labels > 0
    ids = labels[inside]
    rows, cols = (axis.astype(np.float64) for axis in np.nonzero(inside))
    size = count + 1

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(ids, weights=weights, minlength=size)[1:]

    area = np.bincount(ids, minlength=size)[1:].astype(np.float64)
    safe = np.maximum(area, 1.0)
    mean_r = total(rows) / safe
    mean_c = total(cols) / safe
    # Central moments about each region's own centroid (no cancellation far from the origin).
    rows -= np.concatenate(([0.0], mean_r)).take(ids)
    cols -= np.concatenate(([0.0], mean_c)).take(ids)
    var_r = total(rows * rows) / safe
    var_c = total(cols * cols) / safe
    cov = total(rows * cols) / safe
    half_sum = (var_r + var_c) / 2.0
    spread = np.sqrt(((var_r - var_c) / 2.0) ** 2 + cov**2)
    major = np.clip(half_sum + spread, 0.0, None)
    minor = np.clip(half_sum - spread, 0.0, None)
    ratio = np.divide(minor, major, out=np.ones_like(major), where=major > 0)
    eccentricity = np.sqrt(np.clip(1.0 - ratio, 0.0, 1.0))
    return {
        "x": mean_c,
        "y": mean_r,
        "diameter": np.sqrt(4.0 * area / math.pi),
        "area": area,
        "perimeter": _perimeters(labels, count),
        "eccentricity": eccentricity,
    }


def _classes(mask: np.ndarray) -> list[int]:
    """The non-zero values of a mask, ascending."""
    if mask.dtype in (np.bool_, np.uint8):
        values = np.flatnonzero(np.bincount(mask.ravel().view(np.uint8), minlength=1))
    else:
        values = np.unique(mask)
    return [int(value) for value in values if value != 0]


def region_table(
    mask: np.ndarray,
    *,
    file: str = "",
    min_area: int = 0,
    px_per_mm: float | None = None,
    objects: bool = False,
    traits: TraitSettings | None = None,
    skeletons: Mapping[int, SkeletonPixels] | None = None,
) -> pd.DataFrame:
    """One row per connected region of each class of a mask.

    Args:
        mask: HxW 0/1 mask, or a 0..K label mask of classes (regions per class).
        file: the image name written in the ``file`` column.
        objects: the mask is a label image with one value per object (touching
            objects stay apart); every object is one row of class 1.
        min_area: regions with fewer pixels than this are left out.
        px_per_mm: when given, diameter and perimeter are in mm and area in mm²;
            x and y (the centroid) stay in pixels, positions in the image.
        traits: when given (and not ``objects``), the root traits of each region too,
            as columns named with their units (``length_px``, ``diameter_mean_px``, ...).
        skeletons: the skeleton of each class's foreground, where already made.

    Returns:
        Columns file, class, x, y, diameter, area, perimeter, eccentricity, unit (and
        the trait columns).
    """
    mask = np.asarray(mask)
    frames = []
    if objects:
        labelled = [(1, *label_objects(mask, min_area=min_area))]
    else:
        labelled = [
            (value, *label_regions(mask == value, min_area=min_area)) for value in _classes(mask)
        ]
    for value, labels, count in labelled:
        if count:
            props = region_properties(labels, count)
            measured = {}
            if traits is not None and not objects:
                known = (skeletons or {}).get(value)
                measured = region_traits(
                    labels, count, props["area"], settings=traits, px_per_mm=px_per_mm, pixels=known
                )
            frames.append(pd.DataFrame({"file": file, "class": value, **props, **measured}))
    if not frames:
        table = pd.DataFrame({name: pd.Series(dtype=float) for name in REGION_COLUMNS})
        table["file"] = table["file"].astype(object)
        table["class"] = table["class"].astype(np.int64)
        table["unit"] = table["unit"].astype(object)
        return table
    table = pd.concat(frames, ignore_index=True)
    table["unit"] = "px"
    if px_per_mm:
        table["diameter"] /= px_per_mm
        table["perimeter"] /= px_per_mm
        table["area"] /= px_per_mm**2
        table["unit"] = "mm"
    extra = [name for name in table.columns if name not in REGION_COLUMNS]
    return table[[*REGION_COLUMNS, *extra]]
