"""Validation: F1 on the labelled pixels of the validation annotations (METHOD.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED, AnnotatedImage
from cluster.devices import DeviceInfo
from cluster.infer import THRESHOLD, segment_probability


@dataclass(frozen=True)
class Confusion:
    """Pixel counts over labelled pixels; unlabelled pixels are in none of them."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(
            self.tp + other.tp, self.fp + other.fp, self.tn + other.tn, self.fn + other.fn
        )

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 0 when nothing was predicted foreground."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 0 when no labelled pixel is foreground."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN); 0 when undefined (no foreground labelled or predicted)."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0


def confusion(prediction: np.ndarray, labels: np.ndarray) -> Confusion:
    """Counts of a boolean foreground prediction against the labelled pixels only."""
    foreground = labels == FOREGROUND
    background = labels == BACKGROUND
    found = int(np.count_nonzero(prediction & foreground))
    false_alarm = int(np.count_nonzero(prediction & background))
    return Confusion(
        tp=found,
        fp=false_alarm,
        tn=int(np.count_nonzero(background)) - false_alarm,
        fn=int(np.count_nonzero(foreground)) - found,
    )


def validate(
    model: nn.Module,
    items: Iterable[AnnotatedImage],
    *,
    tile_size: int,
    batch_size: int,
    device: DeviceInfo,
    dtype: torch.dtype | None,
    should_stop: Callable[[], bool] | None = None,
) -> Confusion:
    """Segment each annotation where it is labelled (no TTA) and sum the counts.

    Raises ``cluster.infer.Cancelled`` when ``should_stop`` becomes true.
    """
    was_training = model.training
    model.eval()
    total = Confusion()
    try:
        for item in items:
            labelled = item.labels != UNLABELLED
            if not labelled.any():
                continue
            probability = segment_probability(
                [model],
                item.image,
                tile_size=tile_size,
                batch_size=batch_size,
                tta=False,
                device=device,
                dtype=dtype,
                only_where=labelled,
                should_stop=should_stop,
            )
            total = total + confusion(probability > THRESHOLD, item.labels)
    finally:
        model.train(was_training)
    return total
