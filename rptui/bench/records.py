"""What a bench run writes: one row per image, one per evaluated model, and report.json."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from cluster.io.atomic import write_bytes_atomic, write_json_atomic

IMAGES_CSV = "images.csv"
CURVE_CSV = "curve.csv"
EPOCHS_CSV = "epochs.csv"
REPORT_JSON = "report.json"
MODEL_FILE = "model.pt"
CHART_PNG = "f1.png"
FLOAT_DIGITS = 6


@dataclass(frozen=True)
class ImageRecord:
    """One image the simulated user looked at (``accepted`` False: skipped, no errors)."""

    index: int
    image: str
    phase: str  # clear, corrective or dense
    pre_segment: int
    time: float  # unix time when the user moved on
    wall_seconds: float  # since the run started
    image_wall_seconds: float  # on this image, waiting for the segmenter included
    mouse_seconds: float
    keyboard_seconds: float
    total_mouse_seconds: float
    total_keyboard_seconds: float
    annotated_fg: int
    annotated_bg: int
    total_annotated_px: int
    model_version: int  # of the segmentation shown
    live_f1: float  # of that segmentation against the whole truth, before correction
    live_precision: float
    live_recall: float
    confidence: float
    error_regions: int
    spill_px: int
    accepted: bool
    split: str  # train, val, or empty when nothing was saved
    budget_seconds: float = math.nan  # mouse time the user allowed itself (empty: no limit)
    error_px: int = 0  # pixels the segmentation shown got wrong (corrective phase)
    uncorrected_px: int = 0  # of those, not labelled with the truth when the user moved on


@dataclass(frozen=True)
class CurvePoint:
    """A saved model scored on the test images, placed at the annotation made before it."""

    model_version: int
    created: float
    wall_seconds: float
    annotated_images: int
    total_annotated_px: int
    total_mouse_seconds: float
    total_keyboard_seconds: float
    f1: float
    precision: float
    recall: float


def _cell(value: object) -> object:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, FLOAT_DIGITS)
    return value


def write_rows(path: Path, rows: Sequence[Any], row_type: type) -> None:
    """Write dataclass rows as CSV (header from the dataclass), atomically."""
    names = [f.name for f in fields(row_type)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in asdict(row).items()})
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write report.json atomically (NaN becomes null)."""
    write_json_atomic(path, _json_safe(report))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
