"""Corrective metrics: how wrong the shown segmentation was, judged by the user's corrections.

The *corrected* segmentation is the shown mask with the annotation painted over it:
foreground labels become foreground, background labels become background, unlabelled
pixels keep the prediction. Comparing shown with corrected over every pixel gives the
model's TP/FP/TN/FN on that image as the user sees it.

Each accepted image adds one row to ``<project>/logs/corrections.csv`` (the file is
rewritten atomically). When no segmentation was shown, the row still records the time
spent and the annotated pixels, but ``model_version`` and every metric column are blank.

Undefined ratios: precision is NaN (blank in the CSV) when nothing was predicted,
recall is NaN when there is no corrected foreground; F1 is ``2TP / (2TP + FP + FN)``,
1.0 when both masks are empty (nothing to find and nothing found: a perfect image).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from cluster.api import BACKGROUND, FOREGROUND
from cluster.io.atomic import write_bytes_atomic
from cluster.training.confusion import Confusion

CORRECTIONS_LOG_NAME = "corrections.csv"
FLOAT_DIGITS = 6


@dataclass(frozen=True)
class CorrectiveMetrics:
    """Shown versus corrected segmentation of one image."""

    accuracy: float
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class CorrectionRecord:
    """One row of ``corrections.csv``: an accepted image; metrics are None without a model."""

    time: float  # unix time of the accept
    image: str
    model_version: int | None
    seconds: float
    accuracy: float | None
    tp: int | None
    fp: int | None
    tn: int | None
    fn: int | None
    precision: float | None
    recall: float | None
    f1: float | None
    annotated_fg: int
    annotated_bg: int


CORRECTION_COLUMNS = tuple(f.name for f in fields(CorrectionRecord))
_INT_COLUMNS = frozenset({"model_version", "tp", "fp", "tn", "fn", "annotated_fg", "annotated_bg"})
_TEXT_COLUMNS = frozenset({"image"})


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else math.nan


def corrected_mask(shown: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The shown mask with the painted labels applied on top (a bool array).

    Args:
        shown: the segmentation shown, HxW (nonzero is foreground).
        labels: the annotation, HxW (``FOREGROUND``, ``BACKGROUND`` or unlabelled).
    """
    shown = np.asarray(shown)
    labels = np.asarray(labels)
    if shown.shape != labels.shape:
        raise ValueError(f"mask shape {shown.shape} differs from labels shape {labels.shape}")
    corrected = shown > 0
    corrected[labels == FOREGROUND] = True
    corrected[labels == BACKGROUND] = False
    return corrected


def corrective_metrics(shown: np.ndarray, labels: np.ndarray) -> CorrectiveMetrics:
    """Score the shown mask against itself corrected by ``labels`` (see the module notes)."""
    predicted = np.asarray(shown) > 0
    labels = np.asarray(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"mask shape {predicted.shape} differs from labels shape {labels.shape}")
    # Only painted pixels can change: background paint on a prediction is a false positive,
    # foreground paint off it a false negative; every other predicted pixel stays true.
    fp = int(np.count_nonzero(predicted[labels == BACKGROUND]))
    fn = int(np.count_nonzero(~predicted[labels == FOREGROUND]))
    tp = int(np.count_nonzero(predicted)) - fp
    counts = Confusion(tp=tp, fp=fp, tn=int(predicted.size) - tp - fp - fn, fn=fn)
    return CorrectiveMetrics(
        accuracy=_ratio(counts.tp + counts.tn, predicted.size),
        tp=counts.tp,
        fp=counts.fp,
        tn=counts.tn,
        fn=counts.fn,
        precision=counts.precision if counts.tp + counts.fp else math.nan,
        recall=counts.recall if counts.tp + counts.fn else math.nan,
        f1=counts.f1 if counts.tp + counts.fp + counts.fn else 1.0,
    )


def correction_record(
    *,
    image: str,
    labels: np.ndarray,
    shown: np.ndarray | None,
    model_version: int | None,
    seconds: float,
    time: float,
) -> CorrectionRecord:
    """The log row for an accepted image; blank metrics when ``shown`` is None."""
    labels = np.asarray(labels)
    metrics = asdict(corrective_metrics(shown, labels)) if shown is not None else {}
    blanks = {f.name: None for f in fields(CorrectiveMetrics)}
    return CorrectionRecord(
        time=time,
        image=image,
        model_version=model_version if shown is not None else None,
        seconds=max(float(seconds), 0.0),
        annotated_fg=int(np.count_nonzero(labels == FOREGROUND)),
        annotated_bg=int(np.count_nonzero(labels == BACKGROUND)),
        **{**blanks, **metrics},
    )


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(round(value, FLOAT_DIGITS))
    return str(value)


def append_correction(path: Path | str, record: CorrectionRecord) -> None:
    """Append ``record`` to the CSV at ``path`` (header first; the file is rewritten atomically)."""
    path = Path(path)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    buffer = io.StringIO()
    buffer.write(existing)
    if existing and not existing.endswith("\n"):
        buffer.write("\n")
    writer = csv.writer(buffer, lineterminator="\n")
    if not existing:
        writer.writerow(CORRECTION_COLUMNS)
    writer.writerow([_cell(getattr(record, name)) for name in CORRECTION_COLUMNS])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))


def _parse(name: str, text: str) -> Any:
    """A CSV cell as its column's field type (which one depends on ``name``); None if blank."""
    if name in _TEXT_COLUMNS:
        return text
    if text == "":
        return None
    return int(text) if name in _INT_COLUMNS else float(text)


def read_corrections(path: Path | str) -> list[CorrectionRecord]:
    """Every row of a corrections CSV (an absent file has none); blanks read as None."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return [
        CorrectionRecord(**{name: _parse(name, row.get(name) or "") for name in CORRECTION_COLUMNS})
        for row in rows
    ]
