"""The foreground threshold a binary model is kept with (docs/method.md: "its own threshold").

Validation scores a binary model at several thresholds from the same probability maps.
The model is saved with the threshold its validation labels favour, but never below
:data:`cluster.api.THRESHOLD`: a user paints where the model was wrong, so painted
labels hold far more root than the photos do and always favour low thresholds. A pick
above the default is evidence that bias cannot have made; a pick below it is not.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cluster.api import THRESHOLD, UNLABELLED
from cluster.training.confusion import Confusion, confusion

CANDIDATES = (0.3, 0.4, THRESHOLD, 0.6, 0.7, 0.8)  # the thresholds validation scores


def threshold_confusions(
    probability: np.ndarray, labels: np.ndarray, candidates: tuple[float, ...] = CANDIDATES
) -> dict[float, Confusion]:
    """Counts over the labelled pixels with foreground called above each candidate.

    Args:
        probability: HxW foreground probability.
        labels: HxW labels (0 unlabelled, 1 background, 2 foreground).
    """
    labelled = labels != UNLABELLED
    scored, truth = probability[labelled], labels[labelled]
    return {threshold: confusion(scored > threshold, truth) for threshold in candidates}


def add_counts(
    into: dict[float, Confusion], counts: Mapping[float, Confusion]
) -> dict[float, Confusion]:
    """``into`` with ``counts`` added threshold by threshold (in place; returned)."""
    for threshold, found in counts.items():
        into[threshold] = into.get(threshold, Confusion()) + found
    return into


def chosen_threshold(counts: Mapping[float, Confusion]) -> float:
    """The threshold with the best F1 (ties and nothing scored: the default), raised to
    the default when below it."""
    best, best_f1 = THRESHOLD, counts[THRESHOLD].f1 if THRESHOLD in counts else -1.0
    for threshold, found in sorted(counts.items()):
        if found.f1 > best_f1:
            best, best_f1 = threshold, found.f1
    return max(best, THRESHOLD)
