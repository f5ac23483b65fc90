"""What changed between two saved models: times, F1, the annotations seen, the settings
that differ, and how far the weights moved.

Weights move by the relative L2 norm of the difference, ``||B - A|| / ||A||``, over all
weights and per layer (a layer is a parameter's module path: ``down1.conv1.0`` holds
``down1.conv1.0.weight`` and ``down1.conv1.0.bias``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cluster.api import ModelSnapshot
from rptui.store.model_registry import (
    F1_DIGITS,
    UNKNOWN,
    ModelEntry,
    annotations_text,
    epoch_text,
    f1_text,
    parent_text,
    settings,
    settings_text,
    time_text,
)

SHOWN_LAYERS = 5  # the layers that moved most, listed
LABEL_WIDTH = 12


@dataclass(frozen=True)
class WeightChange:
    """How far weights moved: overall and per layer, as relative L2 norms."""

    overall: float
    layers: dict[str, float]  # layer -> relative change, largest first

    def most_moved(self, count: int = SHOWN_LAYERS) -> list[tuple[str, float]]:
        """Up to ``count`` layers that moved, the furthest first."""
        return [(layer, value) for layer, value in self.layers.items() if value > 0][:count]


class IncomparableWeights(ValueError):
    """Two models whose weights differ in names or shapes (another class count)."""


def layer_of(key: str) -> str:
    """The layer a parameter belongs to: its name without ``.weight`` or ``.bias``."""
    return key.rpartition(".")[0] or key


def weight_change(
    before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]
) -> WeightChange:
    """Relative L2 norm of ``after - before``, overall and per layer (largest first).

    Raises:
        IncomparableWeights: the two hold different parameters or shapes.
    """
    if before.keys() != after.keys():
        raise IncomparableWeights("the models hold different layers")
    squares: dict[str, list[float]] = {}  # layer -> [sum of squared change, of squared before]
    for key, old in before.items():
        new = after[key]
        if old.shape != new.shape:
            raise IncomparableWeights(f"{key} is {old.shape} in one and {new.shape} in the other")
        old64, new64 = old.astype(np.float64), new.astype(np.float64)
        sums = squares.setdefault(layer_of(key), [0.0, 0.0])
        sums[0] += float(np.sum((new64 - old64) ** 2))
        sums[1] += float(np.sum(old64**2))
    layers = {layer: _relative(*sums) for layer, sums in squares.items()}
    total_change = sum(sums[0] for sums in squares.values())
    total_before = sum(sums[1] for sums in squares.values())
    ranked = dict(sorted(layers.items(), key=lambda item: item[1], reverse=True))
    return WeightChange(overall=_relative(total_change, total_before), layers=ranked)


def _relative(change_squared: float, before_squared: float) -> float:
    if before_squared == 0.0:
        return 0.0 if change_squared == 0.0 else math.inf
    return math.sqrt(change_squared / before_squared)


def _percent(value: float) -> str:
    return "∞" if math.isinf(value) else f"{100 * value:.2f} %"


def _line(label: str, before: str, after: str) -> str:
    change = before if before == after else f"{before} → {after}"
    return f"{label:<{LABEL_WIDTH}}{change}"


def diff_lines(
    a: ModelEntry, b: ModelEntry, a_weights: ModelSnapshot, b_weights: ModelSnapshot
) -> list[str]:
    """The diff of model ``a`` to model ``b`` (``*_weights`` hold their loaded weights)."""
    lines = [
        f"model #{a.number} → model #{b.number}",
        _line("saved", time_text(a), time_text(b)),
        _line("F1", f1_text(a.f1), f1_text(b.f1) + _f1_change(a.f1, b.f1)),
        _line("epoch", epoch_text(a), epoch_text(b)),
        _line("annotations", annotations_text(a), annotations_text(b)),
        _line("parent", parent_text(a), parent_text(b)),
        *_settings_lines(a, b),
    ]
    try:
        change = weight_change(a_weights.state_dict, b_weights.state_dict)
    except IncomparableWeights as error:
        return [*lines, f"{'weights':<{LABEL_WIDTH}}not comparable: {error}"]
    lines.append(
        f"{'weights':<{LABEL_WIDTH}}moved {_percent(change.overall)} "
        f"(relative L2 norm of #{b.number} − #{a.number}, to #{a.number})"
    )
    moved = ", ".join(f"{layer} {_percent(value)}" for layer, value in change.most_moved())
    if moved:
        lines.append(f"{'':<{LABEL_WIDTH}}most moved: {moved}")
    return lines


def _f1_change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return ""
    return f" ({after - before:+.{F1_DIGITS}f})"


def _settings_lines(a: ModelEntry, b: ModelEntry) -> list[str]:
    """The settings that differ, as ``label before → after``; else that they are the same."""
    before, after = settings(a), settings(b)
    labels = [label for label in {**before, **after} if before.get(label) != after.get(label)]
    if not labels:
        same = "the same: " + settings_text(a) if before else UNKNOWN
        return [f"{'settings':<{LABEL_WIDTH}}{same}"]
    changes = (
        f"{label} {before.get(label, UNKNOWN)} → {after.get(label, UNKNOWN)}" for label in labels
    )
    return [f"{'settings':<{LABEL_WIDTH}}{', '.join(changes)}"]
