"""Traits of a stack: the per-slice rows added up, beside the stack's voxels per class.

Only traits that add up across slices are summed (lengths, counts, tips, branch points,
areas, volumes, and their diameter classes); means, shares, ratios and extents are not,
and stay per slice. A stack's ``network_area_px2`` (or ``area_px`` per class) summed
over its slices equals its ``voxels`` of that class.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cluster.measure.catalogue import MM, PX, column

SUMMED_STEMS = (
    "skeleton_pixels",
    "length",
    "length_walk",
    "count",
    "tips",
    "branch_points",
    "projected_area",
    "surface_area",
    "root_volume",
    "network_area",
)
CLASS_AREAS = ("area_px", "area_mm2")  # the class areas of multi-class rows
SLICES_COLUMN = "slices"
CLASS_DIAMETERS = "_diameter_"  # what a diameter class column holds after its trait's name


def summed_columns(columns: Sequence[str]) -> list[str]:
    """The columns of a per-slice table that add up across slices, in table order."""
    exact = {column(stem, unit) for stem in SUMMED_STEMS for unit in (PX, MM)}
    exact.update(CLASS_AREAS)
    prefixes = tuple(name + CLASS_DIAMETERS for name in exact)
    return [name for name in columns if name in exact or name.startswith(prefixes)]


def stack_totals(
    per_slice: pd.DataFrame,
    *,
    file_column: str,
    slice_column: str,
    class_column: str,
    error_column: str,
) -> pd.DataFrame:
    """Per stack (and class), the slices measured and the sum of each summed column.

    Args:
        per_slice: rows with a slice number (rows without one, and failed rows, are
            left out); binary masks have no class column and count as class 1.

    Returns:
        Columns ``file_column``, ``class_column``, ``slices`` and the summed columns.
    """
    if slice_column not in per_slice.columns:
        return pd.DataFrame()
    rows = per_slice[per_slice[slice_column].notna()]
    if error_column in rows.columns:
        rows = rows[rows[error_column].fillna("").astype(str) == ""]
    if class_column not in rows.columns:
        rows = rows.assign(**{class_column: 1})
    summed = summed_columns(list(rows.columns))
    if rows.empty or not summed:
        return pd.DataFrame()
    keys = [file_column, class_column]
    numbers = rows[summed].apply(pd.to_numeric, errors="coerce")
    grouped = pd.concat([rows[keys], numbers], axis=1).groupby(keys, sort=False)
    totals = grouped.sum(min_count=1)
    totals.insert(0, SLICES_COLUMN, grouped.size())
    return totals.reset_index()
