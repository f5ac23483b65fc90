"""A one-line histogram of the uncertainty scores across the dataset."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from textual.widgets import Static

BINS = 16
LEVELS = " ▁▂▃▄▅▆▇█"  # an empty bin, then eighths of the fullest bin
MIN_RANGE = 0.05  # the histogram spans at least 0..MIN_RANGE


def histogram_bars(values: Sequence[float], *, bins: int = BINS) -> tuple[str, float]:
    """Bars for ``values`` over 0..top (top rounded up to 0.05) and that top."""
    top = max(max(values, default=0.0), MIN_RANGE)
    top = math.ceil(top / MIN_RANGE - 1e-9) * MIN_RANGE
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=bins, range=(0.0, top))
    return level_bars(counts), top


def level_bars(counts: np.ndarray) -> str:
    """One character per bin: blank when empty, else its count in eighths of the fullest."""
    fullest = max(int(counts.max(initial=0)), 1)
    steps = len(LEVELS) - 1
    return "".join(LEVELS[math.ceil(steps * int(n) / fullest)] for n in counts)


def histogram_line(values: Sequence[float], *, current: float | None = None) -> str:
    """``scores 0 ▁▃█▅▂ 0.35 · 40 images · this 0.12``."""
    bars, top = histogram_bars(values)
    noun = "image" if len(values) == 1 else "images"
    line = f"scores 0 {bars} {top:.2f} · {len(values)} {noun}"
    if current is not None:
        line += f" · this {current:.2f}"
    return line


class ScoreHistogram(Static):
    """Uncertainty scores across the dataset; hidden until some image has one."""

    DEFAULT_CSS = """
    ScoreHistogram {
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._shown: str | None = None
        self.display = False

    def show_scores(self, values: Sequence[float], *, current: float | None = None) -> None:
        """Draw the scores (redrawn only when the line changes)."""
        line = histogram_line(values, current=current) if values else ""
        self.display = bool(values)
        if line != self._shown:
            self._shown = line
            self.update(line)
