"""Validation: F1 on the labelled pixels of the validation annotations (docs/method.md).

For K classes each foreground class is scored one-vs-rest over the labelled pixels; the
project's F1 is the mean over the foreground classes (for binary, the one class's F1).
A binary model is also counted at each candidate threshold of
:mod:`cluster.training.thresholds`, from the same forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from cluster.api import UNLABELLED, AnnotatedImage
from cluster.inference.planning import output_count
from cluster.inference.tiled import segment
from cluster.nn.devices import DeviceInfo
from cluster.training.confusion import Confusion, class_confusions, total
from cluster.training.thresholds import add_counts, threshold_confusions


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
    by_threshold: dict[float, Confusion] | None = None,
) -> tuple[Confusion, ...]:
    """Segment each annotation where it is labelled (no TTA); counts per foreground class.

    For a binary model ``by_threshold`` (when given) is filled with the counts at each
    candidate threshold. Raises ``cluster.inference.options.Cancelled`` when
    ``should_stop`` becomes true.
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
            predicted, probability = segment(
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
            if by_threshold is not None and n_classes == 2:
                add_counts(by_threshold, threshold_confusions(probability, item.labels))
            sums = [a + b for a, b in zip(sums, found, strict=True)]
    finally:
        model.train(was_training)
    return tuple(sums)
