"""Held-out scores of a model: pixel F1, precision, recall, and skeleton-length agreement."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cluster.api import ModelSnapshot
from cluster.inference.planning import tile_for_model
from cluster.inference.tiled import segment_probability
from cluster.io.images import read_image
from cluster.io.model_metadata import model_threshold
from cluster.measure.length import skeleton_length
from cluster.nn.devices import pick_device, resolve_precision
from cluster.nn.snapshot import model_from_snapshot
from cluster.training.confusion import Confusion, confusion
from rptui.bench.pairs import ImagePair, load_truth
from rptui.errors import UserError
from rptui.folders.correlate import correlate

log = logging.getLogger(__name__)

LENGTH_COLUMNS = ("file", "predicted_length", "truth_length")


@dataclass(frozen=True)
class HeldOut:
    """A model's scores over every pixel of the test images."""

    model_version: int
    total: Confusion
    lengths: list[tuple[str, float, float]] = field(default_factory=list)
    r2: float = math.nan
    spearman: float = math.nan

    @property
    def f1(self) -> float:
        """Pixel F1 over all test images together."""
        return self.total.f1

    def as_dict(self) -> dict[str, object]:
        """The figures for report.json."""
        return {
            "model_version": self.model_version,
            "test_images": len(self.lengths),
            "f1": self.total.f1,
            "precision": self.total.precision,
            "recall": self.total.recall,
            "tp": self.total.tp,
            "fp": self.total.fp,
            "tn": self.total.tn,
            "fn": self.total.fn,
            "length_r2": self.r2,
            "length_spearman": self.spearman,
            "lengths": [dict(zip(LENGTH_COLUMNS, row, strict=True)) for row in self.lengths],
        }


def _length_agreement(rows: list[tuple[str, float, float]]) -> tuple[float, float]:
    """(R², Spearman ρ) of predicted against true skeleton length; NaN when undefined."""
    table = pd.DataFrame(rows, columns=list(LENGTH_COLUMNS))
    try:
        result = correlate(
            table, table, auto_column="predicted_length", manual_column="truth_length"
        )
    except UserError as error:  # fewer than 3 images, or a constant column
        log.info("no length correlation: %s", error)
        return math.nan, math.nan
    return result.r2, result.spearman


def evaluate_model(
    snapshot: ModelSnapshot, pairs: Sequence[ImagePair], *, tta: bool = False
) -> HeldOut:
    """Segment each test image with ``snapshot`` and compare it with the truth."""
    device = pick_device()
    model = model_from_snapshot(snapshot).to(device.device).eval()
    dtype = resolve_precision(device, "auto")
    total = Confusion()
    lengths: list[tuple[str, float, float]] = []
    for pair in pairs:
        image = read_image(pair.image)
        truth = load_truth(pair)
        probability = segment_probability(
            [model],
            image,
            tile_size=tile_for_model(snapshot.tile_size),
            tta=tta,
            device=device,
            dtype=dtype,
        )
        predicted = probability > model_threshold(snapshot.metadata)
        if predicted.shape != truth.shape:
            raise UserError(f"mask {pair.mask} is not the size of image {pair.image}")
        total = total + confusion(predicted, truth.astype(np.uint8) + 1)
        lengths.append((pair.stem, skeleton_length(predicted)[1], skeleton_length(truth)[1]))
    r2, spearman = _length_agreement(lengths)
    return HeldOut(snapshot.version, total, lengths, r2, spearman)


def spread(count: int, limit: int) -> list[int]:
    """Up to ``limit`` indices of ``range(count)`` evenly spread, the last one always in."""
    if count <= 0 or limit <= 0:
        return []
    if count <= limit:
        return list(range(count))
    if limit == 1:
        return [count - 1]
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})
