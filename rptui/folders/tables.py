"""Measurement tables on disk: their names, CSV or Parquet bytes, and reading them back."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from rptui.errors import UserError

PARQUET_SUFFIX = ".parquet"
TABLE_SUFFIXES = (".csv", PARQUET_SUFFIX)
IMAGE_TABLE_NAME = "measurements.csv"
REGION_TABLE_NAME = "regions.csv"
VOLUME_TABLE_NAME = "volumes.csv"
# A text cell starting so is run as a formula by spreadsheets; a leading ' keeps it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_QUOTE = "'"


def spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (``=1+2.png``), quoted with ``'``
    as spreadsheets expect; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return FORMULA_QUOTE + value
    return value


def table_bytes(table: pd.DataFrame, path: Path) -> bytes:
    """A table encoded as CSV (text cells made :func:`spreadsheet_safe`), or Parquet when
    the name ends in .parquet."""
    if path.suffix.lower() == PARQUET_SUFFIX:
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return buffer.getvalue()
    text = table.select_dtypes(include=["object", "string"]).columns
    safe = table.assign(**{str(c): table[c].map(spreadsheet_safe) for c in text})
    return safe.to_csv(index=False).encode("utf-8")


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet table, with one-line errors for the user."""
    if not path.is_file():
        raise UserError(f"no such table: {path}")
    try:
        if path.suffix.lower() == PARQUET_SUFFIX:
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except ImportError as error:
        raise UserError(f"reading {path} needs pyarrow (pip install pyarrow)") from error
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise UserError(f"cannot read table {path}: {error}") from error
