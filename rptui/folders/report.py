"""What a folder run did: the files written, skipped and failed, and its measurement tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cluster.batch.worker import BatchSettings
from cluster.measure.files import volume_table
from cluster.measure.tables import COUNT_COLUMNS, ERROR_COLUMN, REGIONS, SLICE_COLUMN

FILE_COLUMN = "file"
Row = dict[str, Any]


@dataclass
class FolderReport:
    """What a folder run did, with its measurement rows."""

    written: list[Path] = field(default_factory=list)
    skipped_existing: list[Path] = field(default_factory=list)  # made by the same models
    kept_unknown: list[Path] = field(default_factory=list)  # no record of their models: kept
    replaced: list[Path] = field(default_factory=list)  # made by other models: redone
    failed: list[tuple[Path, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    region_rows: list[dict[str, Any]] = field(default_factory=list)
    volume_rows: list[dict[str, Any]] = field(default_factory=list)  # per class per stack
    pixels: int = 0  # pixels segmented in this run
    seconds: float = 0.0
    cancelled: bool = False  # stopped by ``should_stop`` before every image was done

    def image_table(self) -> pd.DataFrame:
        """One row per image: file, measurements, error ('' when it went well)."""
        return report_table(self.rows)

    def region_table(self) -> pd.DataFrame:
        """One row per region (and one per failed image, with its error)."""
        return report_table(self.region_rows)

    def volume_table(self) -> pd.DataFrame:
        """Voxels (and mm³) per class per stack written or found, with the traits of its
        slices that add up, summed."""
        return volume_table(self.volume_rows, self.image_table())

    def summary(self, tables: Sequence[Path] = ()) -> dict[str, Any]:
        """What the run did, as plain JSON data (without the measurement rows)."""
        return {
            "written": [str(path) for path in self.written],
            "skipped_existing": [str(path) for path in self.skipped_existing],
            "kept_unknown": [str(path) for path in self.kept_unknown],
            "replaced": [str(path) for path in self.replaced],
            "failed": [[str(path), reason] for path, reason in self.failed],
            "pixels": self.pixels,
            "seconds": self.seconds,
            "cancelled": self.cancelled,
            "tables": [str(path) for path in tables],
        }

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> tuple[FolderReport, list[Path]]:
        """A report (without rows) and its table paths, read back from :meth:`summary`."""
        report = cls(
            written=[Path(path) for path in summary["written"]],
            skipped_existing=[Path(path) for path in summary["skipped_existing"]],
            kept_unknown=[Path(path) for path in summary.get("kept_unknown", [])],
            replaced=[Path(path) for path in summary.get("replaced", [])],
            failed=[(Path(path), str(reason)) for path, reason in summary["failed"]],
            pixels=int(summary["pixels"]),
            seconds=float(summary["seconds"]),
            cancelled=bool(summary.get("cancelled", False)),
        )
        return report, [Path(path) for path in summary["tables"]]


def report_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a table: file first, error last, sorted by file (and slice)."""
    if not rows:
        return pd.DataFrame(columns=[FILE_COLUMN, ERROR_COLUMN])
    table = pd.DataFrame(rows)
    table[ERROR_COLUMN] = table[ERROR_COLUMN].fillna("")
    for name in COUNT_COLUMNS:
        if name in table.columns:
            table[name] = table[name].astype("Int64")
    columns = [FILE_COLUMN, *(c for c in table.columns if c not in (FILE_COLUMN, ERROR_COLUMN))]
    table = table[[*columns, ERROR_COLUMN]]
    keys = [FILE_COLUMN, SLICE_COLUMN] if SLICE_COLUMN in table.columns else [FILE_COLUMN]
    return table.sort_values(keys, kind="stable", ignore_index=True)


def add_rows(
    report: FolderReport,
    name: str,
    rows: list[Row],
    regions: list[Row],
    settings: BatchSettings,
    *,
    error: str = "",
    slice_number: int | None = None,
    models: Row | None = None,
) -> None:
    """Keep the rows of one image or slice (or one error row) in the report's tables;
    ``models`` are the columns naming the models that made its mask."""
    where: Row = {FILE_COLUMN: name}
    if slice_number is not None:
        where[SLICE_COLUMN] = slice_number
    made: Row = {} if error else dict(models or {})
    if set(settings.kinds) - {REGIONS} or not settings.kinds:
        if error or not rows:
            report.rows.append({**where, **made, ERROR_COLUMN: error})
        report.rows.extend({**where, **row, **made, ERROR_COLUMN: ""} for row in rows if not error)
    if REGIONS in settings.kinds:
        if error:
            report.region_rows.append({**where, ERROR_COLUMN: error})
        report.region_rows.extend(
            {**where, **region, **where, **made, ERROR_COLUMN: ""} for region in regions
        )
