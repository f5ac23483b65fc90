"""Measurements of masks: one table row per image, or one per region.

Kinds of per-image measurement, combined into one row (columns and units in
:mod:`cluster.measure.catalogue`, formulas in :mod:`cluster.measure.traits`):

- ``length``: ``skeleton_pixels`` (RootPainter's length: the skeleton's pixel count),
  ``length_px`` (orientation-fair, see :mod:`cluster.measure.length`) and ``length_walk_px``
  (steps of 1 and √2); ``_mm`` columns too when pixels per mm are given.
- ``count``: ``count``, the number of 8-connected regions.
- ``tips``: ``tips``, ``branch_points`` and branch points per length.
- ``diameter``: mean, median and largest diameter; projected area, surface area and
  volume; and per diameter class when thresholds are given.
- ``angles``: mean angle from the horizontal, shares of shallow, medium, steep length.
- ``shape``: network area, convex area, solidity, width, depth, width/depth.

``all`` means every per-image kind. ``regions`` (see
:func:`cluster.measure.regions.region_table`) gives one row per region instead, with the
same traits per region. The minimum region size filter applies to all of them: regions
smaller than ``min_area`` pixels are removed before anything is measured.

A multi-class mask (class indices 0..K-1) gets one row per foreground class instead
(``class``, ``class_name``, ``area_px``, and the kinds measured on that class alone);
a stack gets those rows for every slice (``slice``, 1..Z), and a volume table: voxels
per class per stack, and mm³ when a voxel size (x, y, z in mm) is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from cluster.measure.catalogue import WHOLE_NUMBERS, Values, in_units, trait_columns
from cluster.measure.regions import (
    class_pixel_counts,
    count_regions,
    region_table,
    remove_small_regions,
)
from cluster.measure.traits import (
    SKELETON_KINDS,
    SkeletonPixels,
    TraitSettings,
    outline_traits,
    skeleton_traits,
)

logger = logging.getLogger(__name__)

IMAGE_KINDS: tuple[str, ...] = ("length", "count", "tips", "diameter", "angles", "shape")
REGIONS = "regions"
ALL_KINDS: tuple[str, ...] = (*IMAGE_KINDS, REGIONS)
EVERY_IMAGE_KIND = "all"  # stands for every per-image kind
DEFAULT_TRAITS = TraitSettings()
ERROR_COLUMN = "error"
# Whole-number columns stay whole numbers (nullable) when a failed file leaves them empty.
COUNT_COLUMNS: tuple[str, ...] = ("slice", "class", "area_px", *WHOLE_NUMBERS, "voxels")
FILE_COLUMN = "file"
SLICE_COLUMN = "slice"
CLASS_COLUMN = "class"
CLASS_NAME_COLUMN = "class_name"
STACK_COLUMN = "stack"
BINARY_NAMES = ("background", "foreground")
VOLUME_COLUMNS = (STACK_COLUMN, CLASS_COLUMN, CLASS_NAME_COLUMN, "voxels", "volume_mm3")
VoxelSize = tuple[float, float, float]  # x, y, z in mm

Row = dict[str, Any]
Progress = Callable[[int, int], None]


class ScaleOptions(TypedDict):
    """Keyword arguments every measurement takes: pixels per mm and the smallest region kept."""

    px_per_mm: float | None
    min_area: int


class MeasureOptions(ScaleOptions):
    """:class:`ScaleOptions` and how the root traits are measured."""

    traits: TraitSettings


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """Validate measurement kinds (``all``: every per-image kind); ``regions`` cannot be
    mixed with per-image kinds."""
    named = [kind.strip() for kind in kinds if kind.strip()]
    expanded = (IMAGE_KINDS if kind == EVERY_IMAGE_KIND else (kind,) for kind in named)
    chosen = tuple(dict.fromkeys(kind for group in expanded for kind in group))
    unknown = [kind for kind in chosen if kind not in ALL_KINDS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown measurement kind {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join((*ALL_KINDS, EVERY_IMAGE_KIND))}"
        )
    if REGIONS in chosen and len(chosen) > 1:
        raise ValueError("'regions' makes a per-region table; measure it on its own")
    return chosen


def length_row(mask: np.ndarray, *, px_per_mm: float | None = None, min_area: int = 0) -> Row:
    """Skeleton pixel count and orientation-fair length (and mm) of a mask's foreground."""
    return measure_mask(mask, kinds=("length",), px_per_mm=px_per_mm, min_area=min_area)


def tips_and_branches(mask: np.ndarray, *, min_area: int = 0) -> Row:
    """Number of skeleton tips and of branch points (junctions) of a mask's foreground."""
    row = measure_mask(mask, kinds=("tips",), min_area=min_area)
    return {name: row[name] for name in ("tips", "branch_points")}


def _cell(name: str, value: np.floating | np.integer) -> int | float:
    """A table cell: whole numbers as int, the rest as float (NaN where undefined)."""
    return int(value) if name in COUNT_COLUMNS else float(value)


def _image_row(
    foreground: np.ndarray,
    kinds: Sequence[str],
    *,
    px_per_mm: float | None,
    traits: TraitSettings,
    pixels: SkeletonPixels | None = None,
) -> Row:
    """The per-image row of a bool foreground (already size-filtered)."""
    values: Values = {}
    if SKELETON_KINDS.intersection(kinds):
        pixels = pixels or SkeletonPixels(foreground, traits)
        values.update(skeleton_traits(pixels, kinds, px_per_mm=px_per_mm))
    if "count" in kinds:
        values["count"] = np.array([count_regions(foreground)])
    if "shape" in kinds:
        values.update(outline_traits(foreground))
    thresholds = traits.diameter_classes
    columns = in_units(values, px_per_mm=px_per_mm, thresholds=thresholds)
    order = trait_columns(kinds, px_per_mm=px_per_mm, thresholds=thresholds)
    return {name: _cell(name, columns[name][0]) for name in order}


def measure_mask(
    mask: np.ndarray,
    *,
    kinds: Sequence[str] = IMAGE_KINDS,
    px_per_mm: float | None = None,
    min_area: int = 0,
    traits: TraitSettings = DEFAULT_TRAITS,
) -> Row:
    """Per-image measurements of a mask (any non-zero pixel is foreground) as one row.

    Args:
        mask: HxW array.
        kinds: any of :data:`IMAGE_KINDS` (or ``all``).
        px_per_mm: when given, lengths, areas and volumes are also reported in mm.
        min_area: regions with fewer pixels than this are removed first.
        traits: pruning, diameter classes and the angle window.
    """
    kinds = check_kinds(kinds)
    if REGIONS in kinds:
        raise ValueError("use region_table for per-region measurements")
    foreground = remove_small_regions(np.asarray(mask) > 0, min_area=min_area)
    return _image_row(foreground, kinds, px_per_mm=px_per_mm, traits=traits)


def measure_all(
    mask: np.ndarray,
    *,
    file: str = "",
    px_per_mm: float | None = None,
    min_area: int = 0,
    traits: TraitSettings = DEFAULT_TRAITS,
) -> tuple[Row, pd.DataFrame]:
    """Every measurement of a mask at once: the per-image row and the region table.

    Shares the work between them (one size filter, one skeleton of a binary mask),
    which is what a folder of masks measured for everything needs.
    """
    mask = remove_small_regions(np.asarray(mask), min_area=min_area)
    foreground = mask > 0
    binary = mask.dtype == np.bool_ or int(mask.max(initial=0)) <= 1
    pixels = SkeletonPixels(foreground, traits)
    row = _image_row(foreground, IMAGE_KINDS, px_per_mm=px_per_mm, traits=traits, pixels=pixels)
    skeletons = {1: pixels} if binary else {}
    table = region_table(mask, file=file, px_per_mm=px_per_mm, traits=traits, skeletons=skeletons)
    return row, table


def class_names(classes: Sequence[str], top: int) -> tuple[str, ...]:
    """Names for classes 0..max(top, K-1): ``classes`` as given, else background, class1, ..."""
    names = list(classes) or list(BINARY_NAMES[: 1 + (top <= 1)])
    names += [f"class{index}" for index in range(len(names), top + 1)]
    return tuple(names)


def is_multiclass(mask: np.ndarray, classes: Sequence[str] = ()) -> bool:
    """Whether a mask is measured per class: more than two classes named, or values > 1."""
    return len(classes) > len(BINARY_NAMES) or int(np.asarray(mask).max(initial=0)) > 1


def measure_classes(
    mask: np.ndarray,
    *,
    kinds: Sequence[str] = (),
    classes: Sequence[str] = (),
    px_per_mm: float | None = None,
    min_area: int = 0,
    traits: TraitSettings = DEFAULT_TRAITS,
) -> list[Row]:
    """One row per foreground class of a 0..K-1 label mask: area and ``kinds`` of that class.

    Every class 1..K-1 gets a row (area 0 when absent), so tables line up across images.
    """
    mask = np.asarray(mask)
    names = class_names(classes, int(mask.max(initial=0)))
    image_kinds = tuple(kind for kind in kinds if kind in IMAGE_KINDS)
    rows: list[Row] = []
    for index in range(1, len(names)):
        alone = remove_small_regions(mask == index, min_area=min_area)
        area = int(np.count_nonzero(alone))
        row: Row = {CLASS_COLUMN: index, CLASS_NAME_COLUMN: names[index], "area_px": area}
        if px_per_mm:
            row["area_mm2"] = area / px_per_mm**2
        if image_kinds:
            row.update(_image_row(alone, image_kinds, px_per_mm=px_per_mm, traits=traits))
        rows.append(row)
    return rows


def measure_rows(
    mask: np.ndarray,
    *,
    kinds: Sequence[str],
    classes: Sequence[str] = (),
    px_per_mm: float | None = None,
    min_area: int = 0,
    traits: TraitSettings = DEFAULT_TRAITS,
) -> list[Row]:
    """Per-image rows of a mask: one (binary, as :func:`measure_mask`) or one per class."""
    options: MeasureOptions = {"px_per_mm": px_per_mm, "min_area": min_area, "traits": traits}
    if is_multiclass(mask, classes):
        return measure_classes(mask, kinds=kinds, classes=classes, **options)
    image_kinds = tuple(kind for kind in kinds if kind in IMAGE_KINDS)
    if not image_kinds:
        return []
    return [measure_mask(mask, kinds=image_kinds, **options)]


def named_regions(table: pd.DataFrame, classes: Sequence[str], *, multiclass: bool) -> pd.DataFrame:
    """A region table with a ``class_name`` column after ``class`` (multi-class only)."""
    if not multiclass:
        return table
    top = int(table[CLASS_COLUMN].max()) if len(table) else 0
    names = class_names(classes, top)
    table.insert(
        table.columns.get_loc(CLASS_COLUMN) + 1,
        CLASS_NAME_COLUMN,
        [names[int(value)] for value in table[CLASS_COLUMN]],
    )
    return table


def measure_stack(
    masks: np.ndarray,
    *,
    file: str,
    kinds: Sequence[str],
    classes: Sequence[str] = (),
    px_per_mm: float | None = None,
    min_area: int = 0,
    traits: TraitSettings = DEFAULT_TRAITS,
) -> pd.DataFrame:
    """Rows per slice (``slice`` 1..Z) of a ZxHxW mask: per class, per image or per region."""
    masks = np.asarray(masks)
    multiclass = is_multiclass(masks, classes)
    names = class_names(classes, int(masks.max(initial=0))) if multiclass else tuple(classes)
    options: MeasureOptions = {"px_per_mm": px_per_mm, "min_area": min_area, "traits": traits}
    frames = []
    for z, mask in enumerate(masks):
        if REGIONS in kinds:
            table = region_table(mask, file=file, **options)
            table = named_regions(table, names, multiclass=multiclass)
        else:
            rows = measure_rows(mask, kinds=kinds, classes=names, **options)
            table = pd.DataFrame([{"file": file, **row} for row in rows])
        table.insert(1, SLICE_COLUMN, z + 1)
        frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def volume_rows(
    masks: np.ndarray,
    *,
    stack: str,
    classes: Sequence[str] = (),
    voxel_size: VoxelSize | None = None,
) -> list[Row]:
    """Voxels (and mm³ with ``voxel_size``) per foreground class of a ZxHxW class mask."""
    masks = np.asarray(masks)
    names = class_names(classes, int(masks.max(initial=0)))
    counts = class_pixel_counts(masks, classes=len(names))
    voxel_mm3 = float(np.prod(voxel_size)) if voxel_size else None
    rows = []
    for index in range(1, len(names)):
        row: Row = {
            STACK_COLUMN: stack,
            CLASS_COLUMN: index,
            CLASS_NAME_COLUMN: names[index],
            "voxels": int(counts[index]),
        }
        if voxel_mm3 is not None:
            row["volume_mm3"] = int(counts[index]) * voxel_mm3
        rows.append(row)
    return rows
