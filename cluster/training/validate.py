"""Validation: F1 on the labelled pixels of the validation annotations (docs/method.md).

For K classes each foreground class is scored one-vs-rest over the labelled pixels; the
project's F1 is the mean over the foreground classes (for binary, the one class's F1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED, AnnotatedImage
from cluster.inference.planning import output_count
from cluster.inference.tiled import segment
from cluster.nn.devices import DeviceInfo


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


def class_confusions(
    predicted: np.ndarray, labels: np.ndarray, *, n_classes: int
) -> tuple[Confusion, ...]:
    """One-vs-rest counts for each foreground class 1..K-1, over labelled pixels only.

    Args:
        predicted: HxW predicted class index (0 background, 1..K-1).
        labels: HxW labels: 0 unlabelled, class index + 1 where painted.
        n_classes: K, background included.
    """
    labelled = labels != UNLABELLED
    counts = []
    for index in range(1, n_classes):
        truth = labels == index + 1
        said = (predicted == index) & labelled
        found = int(np.count_nonzero(said & truth))
        false_alarm = int(np.count_nonzero(said)) - found
        positives = int(np.count_nonzero(truth))
        negatives = int(np.count_nonzero(labelled)) - positives
        counts.append(Confusion(found, false_alarm, negatives - false_alarm, positives - found))
    return tuple(counts)


def mean_f1(counts: tuple[Confusion, ...]) -> float:
    """Mean F1 over the classes labelled or predicted somewhere (0 when none is)."""
    scored = [c.f1 for c in counts if 2 * c.tp + c.fp + c.fn]
    return float(np.mean(scored)) if scored else 0.0


def total(counts: tuple[Confusion, ...]) -> Confusion:
    """The counts summed over classes."""
    summed = Confusion()
    for c in counts:
        summed = summed + c
    return summed


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
    """The counts of :func:`validate_classes`, summed over the foreground classes."""
    return total(
        validate_classes(
            model,
            items,
            tile_size=tile_size,
            batch_size=batch_size,
            device=device,
            dtype=dtype,
            should_stop=should_stop,
        )
    )


def validate_classes(
    model: nn.Module,
    items: Iterable[AnnotatedImage],
    *,
    tile_size: int,
    batch_size: int,
    device: DeviceInfo,
    dtype: torch.dtype | None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Confusion, ...]:
    """Segment each annotation where it is labelled (no TTA); counts per foreground class.

    Raises ``cluster.inference.options.Cancelled`` when ``should_stop`` becomes true.
    """
    was_training = model.training
    model.eval()
    n_classes = output_count(model)
    sums = [Confusion()] * (n_classes - 1)
    try:
        for item in items:
            labelled = item.labels != UNLABELLED
            if not labelled.any():
                continue
            predicted, _ = segment(
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
            found = class_confusions(predicted, item.labels, n_classes=n_classes)
            sums = [a + b for a, b in zip(sums, found, strict=True)]
    finally:
        model.train(was_training)
    return tuple(sums)
