"""Measurement tables as the measurements screen shows them: where a folder's table is
written by default, the rows filtered and sorted, the summary line, a cell's text."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from rptui.folders.measuring import ERROR_COLUMN, REGIONS

FILE_COLUMN = "file"
IMAGE_TABLE_NAME = "measurements.csv"
REGION_TABLE_NAME = "regions.csv"
# Columns the summary line adds up (when the table has them).
SUMMED_COLUMNS: tuple[str, ...] = (
    "length_px",
    "length_mm",
    "skeleton_pixels",
    "count",
    "tips",
    "branch_points",
    "surface_area_px2",
    "surface_area_mm2",
    "root_volume_px3",
    "root_volume_mm3",
    "area",
)
RESULTS_FOLDER = "results"  # default outputs go to <workspace>/results/<input folder name>


def table_for(results: Path, folder: Path, kinds: tuple[str, ...]) -> Path:
    """Where measuring a folder of masks writes its table by default: ``results/<folder
    name>/``, never into the folder measured (it may be shared, read-only or data)."""
    name = REGION_TABLE_NAME if REGIONS in kinds else IMAGE_TABLE_NAME
    return results / (folder.name or "masks") / name


def shown_rows(
    table: pd.DataFrame, *, sort_by: str | None, descending: bool, text: str
) -> pd.DataFrame:
    """The rows on screen: those whose file name holds ``text``, sorted by one column."""
    rows = table
    if text and FILE_COLUMN in table.columns:
        names = table[FILE_COLUMN].astype(str)
        rows = table[names.str.contains(text, case=False, regex=False)]
    if sort_by is not None and sort_by in rows.columns:
        rows = rows.sort_values(
            sort_by, ascending=not descending, kind="stable", na_position="last"
        )
    return rows


def good_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows without an error."""
    if ERROR_COLUMN not in rows.columns:
        return rows
    return rows[rows[ERROR_COLUMN].fillna("").astype(str) == ""]


def summary_line(rows: pd.DataFrame) -> str:
    """``n`` and, per summed column, the mean and the total over rows without an error."""
    good = good_rows(rows)
    parts = [f"n {len(good)}"]
    if len(good) < len(rows):
        parts.append(f"{len(rows) - len(good)} failed")
    for name in SUMMED_COLUMNS:
        if name in good.columns and len(good):
            values = pd.to_numeric(good[name], errors="coerce").astype(float)
            parts.append(f"{name} mean {values.mean():.4g} total {values.sum():.4g}")
    return " · ".join(parts)


def cell_text(value: Any) -> str:
    """A value as the table shows it: floats to 4 significant digits, missing as blank."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
