"""Measurements of masks: one table row per image (length, count, tips) or per region.

Kinds of per-image measurement, combined into one row:

- ``length``: ``skeleton_pixels`` (RootPainter's length: the skeleton's pixel count) and
  ``length_px``, an orientation-fair length (see :mod:`cluster.length`); ``length_mm``
  too when pixels per mm are given.
- ``count``: ``count``, the number of 8-connected regions.
- ``tips``: ``tips`` and ``branch_points`` of the skeleton.

``regions`` (see :func:`cluster.regions.region_table`) gives one row per region instead.
The minimum region size filter applies to all of them: regions smaller than
``min_area`` pixels are removed before anything is measured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from cluster.images import ImageReadError, read_mask
from cluster.length import fair_length, skeleton_graph, skeleton_of, tips_and_branch_points
from cluster.regions import count_regions, region_table, remove_small_regions

logger = logging.getLogger(__name__)

IMAGE_KINDS: tuple[str, ...] = ("length", "count", "tips")
REGIONS = "regions"
ALL_KINDS: tuple[str, ...] = (*IMAGE_KINDS, REGIONS)
ERROR_COLUMN = "error"
# Whole-number columns stay whole numbers (nullable) when a failed file leaves them empty.
COUNT_COLUMNS: tuple[str, ...] = ("skeleton_pixels", "tips", "branch_points", "count", "class")

LABEL_MODES = frozenset({"L", "I", "I;16", "I;16B", "I;16L"})
Row = dict[str, Any]
Progress = Callable[[int, int], None]


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """Validate measurement kinds; ``regions`` cannot be mixed with per-image kinds."""
    chosen = tuple(dict.fromkeys(kind.strip() for kind in kinds if kind.strip()))
    unknown = [kind for kind in chosen if kind not in ALL_KINDS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown measurement kind {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(ALL_KINDS)}"
        )
    if REGIONS in chosen and len(chosen) > 1:
        raise ValueError("'regions' makes a per-region table; measure it on its own")
    return chosen


def length_row(mask: np.ndarray, *, px_per_mm: float | None = None, min_area: int = 0) -> Row:
    """Skeleton pixel count and orientation-fair length (and mm) of a mask's foreground."""
    return measure_mask(mask, kinds=("length",), px_per_mm=px_per_mm, min_area=min_area)


def tips_and_branches(mask: np.ndarray, *, min_area: int = 0) -> Row:
    """Number of skeleton tips and of branch points (junctions) of a mask's foreground."""
    return measure_mask(mask, kinds=("tips",), min_area=min_area)


def measure_mask(
    mask: np.ndarray,
    *,
    kinds: Sequence[str] = IMAGE_KINDS,
    px_per_mm: float | None = None,
    min_area: int = 0,
) -> Row:
    """Per-image measurements of a mask (any non-zero pixel is foreground) as one row.

    Args:
        mask: HxW array.
        kinds: any of ``length``, ``count``, ``tips``.
        px_per_mm: when given, lengths are also reported in mm.
        min_area: regions with fewer pixels than this are removed first.
    """
    kinds = check_kinds(kinds)
    if REGIONS in kinds:
        raise ValueError("use region_table for per-region measurements")
    foreground = remove_small_regions(np.asarray(mask) > 0, min_area=min_area)
    row: Row = {}
    if "length" in kinds or "tips" in kinds:
        graph = skeleton_graph(skeleton_of(foreground))
        if "length" in kinds:
            length = fair_length(graph)
            row["skeleton_pixels"] = graph.pixels
            row["length_px"] = length
            if px_per_mm:
                row["length_mm"] = length / px_per_mm
        if "tips" in kinds:
            row["tips"], row["branch_points"] = tips_and_branch_points(graph)
    if "count" in kinds:
        row["count"] = count_regions(foreground)
    return row


def measure_all(
    mask: np.ndarray,
    *,
    file: str = "",
    px_per_mm: float | None = None,
    min_area: int = 0,
) -> tuple[Row, pd.DataFrame]:
    """All four measurements of a mask at once: the per-image row and the region table.

    Shares the work between them (one size filter, one skeleton, one labelling of a
    binary mask), which is what a folder of masks measured for everything needs.
    """
    mask = np.asarray(mask)
    mask = remove_small_regions(mask, min_area=min_area)
    row = measure_mask(mask, kinds=("length", "tips"), px_per_mm=px_per_mm)
    table = region_table(mask, file=file, px_per_mm=px_per_mm)
    binary = mask.dtype == np.bool_ or int(mask.max(initial=0)) <= 1
    row["count"] = len(table) if binary else count_regions(mask)
    return row, table


def read_measurable_mask(path: Path | str) -> np.ndarray:
    """Read a mask file for measuring: HxW uint8, 0 background, 1..K classes.

    Our masks (0/255, or a 0..K label image of classes), RootPainter's RGBA
    segmentations and RhizoVision's black-on-white masks are all read; a single-channel
    8-bit image whose values are small class numbers keeps them, anything else is 0/1.
    """
    binary = read_mask(path, kind="auto")
    try:
        with Image.open(path) as image:
            if image.mode != "L":
                return binary
            values = np.asarray(image)
    except (OSError, ValueError):  # read by another decoder: no class values to keep
        return binary
    top = int(values.max(initial=0))
    if 1 < top < np.iinfo(np.uint8).max and np.array_equal(values > 0, binary > 0):
        return values.astype(np.uint8, copy=False)
    return binary


def read_object_labels(path: Path | str) -> np.ndarray:
    """Read a label image with one value per object (8 or 16 bit, single channel)."""
    try:
        with Image.open(path) as image:
            if image.mode in LABEL_MODES:
                return np.array(image)
    except (OSError, ValueError):
        pass
    return read_measurable_mask(path)


def measure_file(
    path: Path | str,
    *,
    kinds: Sequence[str] = IMAGE_KINDS,
    px_per_mm: float | None = None,
    min_area: int = 0,
    objects: bool = False,
) -> pd.DataFrame:
    """Measure one mask file: one row (per-image kinds) or one row per region.

    ``objects`` reads the file as a label image of objects (one value each) for
    ``regions``. A file that cannot be read gives one row with its ``error``.
    """
    path = Path(path)
    kinds = check_kinds(kinds)
    try:
        objects = objects and REGIONS in kinds
        mask = read_object_labels(path) if objects else read_measurable_mask(path)
    except (ImageReadError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or str(error)
        logger.info("cannot measure %s: %s", path, reason)
        return pd.DataFrame([{"file": path.name, ERROR_COLUMN: reason}])
    if REGIONS in kinds:
        table = region_table(
            mask, file=path.name, min_area=min_area, px_per_mm=px_per_mm, objects=objects
        )
        table[ERROR_COLUMN] = ""
        return table
    row = measure_mask(mask, kinds=kinds, px_per_mm=px_per_mm, min_area=min_area)
    return pd.DataFrame([{"file": path.name, **row, ERROR_COLUMN: ""}])


def measure_files(
    paths: Sequence[Path],
    *,
    kinds: Sequence[str] = IMAGE_KINDS,
    px_per_mm: float | None = None,
    min_area: int = 0,
    objects: bool = False,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Measure mask files into one table; bad files get a row with their error."""
    kinds = check_kinds(kinds)
    frames = []
    for done, path in enumerate(paths, start=1):
        options = {"px_per_mm": px_per_mm, "min_area": min_area, "objects": objects}
        frames.append(measure_file(path, kinds=kinds, **options))
        if progress is not None:
            progress(done, len(paths))
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame(columns=["file", ERROR_COLUMN])
    table = pd.concat(frames, ignore_index=True)
    table[ERROR_COLUMN] = table[ERROR_COLUMN].fillna("")
    for name in COUNT_COLUMNS:
        if name in table.columns:
            table[name] = table[name].astype("Int64")
    columns = [name for name in table.columns if name != ERROR_COLUMN]
    return table[[*columns, ERROR_COLUMN]]
