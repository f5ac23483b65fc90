"""Pixel counts of a prediction against labels, and the F1 they give (docs/method.md).

Only labelled pixels count. For K classes each foreground class is counted one-vs-rest;
a project's F1 is the mean over the foreground classes (for binary, the one class's F1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED


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
