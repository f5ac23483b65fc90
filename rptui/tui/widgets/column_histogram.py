"""A histogram of one column of a measurement table, drawn as one line of bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
from textual.widgets import Static

from rptui.tui.widgets.score_histogram import level_bars

BINS = 32


def column_histogram_line(name: str, values: pd.Series, *, bins: int = BINS) -> str:
    """``length_px 12.5 ▁▃█▅▂ 840 · n 40 · median 310``: the column's numbers from their
    least to their largest, in ``bins`` bins (missing values and text are left out)."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    numbers = numbers[np.isfinite(numbers)]
    if not numbers.size:
        return f"{name}: no numbers to draw"
    low, high = float(numbers.min()), float(numbers.max())
    counts, _ = np.histogram(numbers, bins=bins if high > low else 1, range=(low, high))
    return (
        f"{name} {low:.4g} {level_bars(counts)} {high:.4g} · n {numbers.size} · "
        f"median {float(np.median(numbers)):.4g}"
    )


class ColumnHistogram(Static):
    """The histogram of the column chosen last; hidden until one is chosen."""

    DEFAULT_CSS = """
    ColumnHistogram {
        height: 1;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.column: str | None = None
        self.display = False

    def show_column(self, name: str, values: pd.Series) -> None:
        """Draw the histogram of ``values``, the column ``name``."""
        self.column = name
        self.display = True
        self.update(column_histogram_line(name, values))
