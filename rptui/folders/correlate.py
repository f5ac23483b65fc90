"""Compare automatic measurements with manual ones: R², Spearman ρ, a fitted line, plots.

Rows of the two tables are matched on a key column (``file`` by default). File names
are matched by stem, so ``a.png`` in one table matches ``a.jpg``, ``masks/a.png`` or
``a`` in the other. Rows that find no partner, and matched rows without a number in
either column, are listed in the result, never silently dropped.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import numpy as np
import pandas as pd
from scipy import stats

from cluster.io.atomic import write_bytes_atomic
from rptui.errors import UserError
from rptui.folders.tables import FORMULA_QUOTE, FORMULA_STARTS

FILE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".npz", ".gif"}
)
MIN_PAIRS = 3
PLOT_WIDTH = 60
PLOT_HEIGHT = 20
POINT_CHAR = "o"
LINE_CHAR = "."
PNG_DPI = 120


@dataclass(frozen=True)
class CorrelationResult:
    """Agreement of an automatic column with a manual one over the matched rows."""

    n: int
    r2: float
    spearman: float
    slope: float
    intercept: float
    auto_column: str
    manual_column: str
    keys: list[str] = field(default_factory=list)
    auto: np.ndarray = field(default_factory=lambda: np.zeros(0))
    manual: np.ndarray = field(default_factory=lambda: np.zeros(0))
    unmatched_auto: list[str] = field(default_factory=list)
    unmatched_manual: list[str] = field(default_factory=list)
    missing_values: list[str] = field(default_factory=list)


def match_key(value: object) -> str:
    """The key a row is matched on: a file name's stem, anything else as text (a cell
    quoted against spreadsheet formulas without its quote)."""
    text = str(value).strip()
    if text.startswith(FORMULA_QUOTE) and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]
    name = PurePath(text.replace("\\", "/")).name or text
    suffix = PurePath(name).suffix
    if suffix.lower() in FILE_SUFFIXES:
        return name[: -len(suffix)]
    return name


def _keyed(table: pd.DataFrame, *, on: str, column: str, label: str) -> pd.Series:
    for name in (on, column):
        if name not in table.columns:
            raise UserError(
                f"{label} table has no column {name!r}; it has {', '.join(map(str, table.columns))}"
            )
    keys = table[on].map(match_key)
    duplicated = sorted(set(keys[keys.duplicated()]))
    if duplicated:
        raise UserError(
            f"{label} table has several rows for {', '.join(duplicated[:5])}"
            f"{' ...' if len(duplicated) > 5 else ''}; correlate needs one row per {on}"
        )
    values = pd.to_numeric(table[column], errors="coerce")
    return pd.Series(values.to_numpy(dtype=float), index=keys.to_numpy())


def correlate(
    auto: pd.DataFrame,
    manual: pd.DataFrame,
    *,
    auto_column: str,
    manual_column: str,
    on: str = "file",
) -> CorrelationResult:
    """Match rows on ``on`` and fit ``auto ≈ slope × manual + intercept``.

    Raises:
        UserError: a column is missing, a key repeats, or fewer than 3 rows match.
    """
    auto_values = _keyed(auto, on=on, column=auto_column, label="automatic")
    manual_values = _keyed(manual, on=on, column=manual_column, label="manual")
    common = [key for key in auto_values.index if key in set(manual_values.index)]
    unmatched_auto = [key for key in auto_values.index if key not in set(common)]
    unmatched_manual = [key for key in manual_values.index if key not in set(common)]
    x = manual_values.reindex(common).to_numpy(dtype=float)
    y = auto_values.reindex(common).to_numpy(dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    missing = [key for key, ok in zip(common, finite, strict=True) if not ok]
    keys = [key for key, ok in zip(common, finite, strict=True) if ok]
    x, y = x[finite], y[finite]
    if len(keys) < MIN_PAIRS:
        raise UserError(
            f"only {len(keys)} rows match with numbers in both columns; "
            f"need at least {MIN_PAIRS} (matched on {on!r} by file stem)"
        )
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise UserError("a column is constant over the matched rows; nothing to correlate")
    fit = stats.linregress(x, y)
    spearman = stats.spearmanr(x, y).statistic
    return CorrelationResult(
        n=len(keys),
        r2=float(fit.rvalue) ** 2,
        spearman=float(spearman),
        slope=float(fit.slope),
        intercept=float(fit.intercept),
        auto_column=auto_column,
        manual_column=manual_column,
        keys=keys,
        auto=y,
        manual=x,
        unmatched_auto=unmatched_auto,
        unmatched_manual=unmatched_manual,
        missing_values=missing,
    )


def summary_lines(result: CorrelationResult) -> list[str]:
    """The figures of a result, one per line."""
    return [
        f"n           {result.n}",
        f"R²          {result.r2:.4f}",
        f"Spearman ρ  {result.spearman:.4f}",
        f"slope       {result.slope:.6g}",
        f"intercept   {result.intercept:.6g}",
        f"fit: {result.auto_column} = {result.slope:.4g} × {result.manual_column}"
        f" {'+' if result.intercept >= 0 else '-'} {abs(result.intercept):.4g}",
    ]


def _span(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    if high == low:
        high = low + 1.0
    return low, high


def text_scatter(
    result: CorrelationResult, *, width: int = PLOT_WIDTH, height: int = PLOT_HEIGHT
) -> str:
    """A scatter plot in characters: points ``o``, the fitted line ``.``, manual across."""
    x_low, x_high = _span(result.manual)
    fitted = result.slope * np.array([x_low, x_high]) + result.intercept
    y_low, y_high = _span(np.concatenate([result.auto, fitted]))
    grid = [[" "] * width for _ in range(height)]

    def cell(x: float, y: float) -> tuple[int, int]:
        column = round((x - x_low) / (x_high - x_low) * (width - 1))
        row = round((y_high - y) / (y_high - y_low) * (height - 1))
        return min(max(row, 0), height - 1), min(max(column, 0), width - 1)

    for column in range(width):
        x = x_low + (x_high - x_low) * column / max(width - 1, 1)
        row, _ = cell(x, result.slope * x + result.intercept)
        grid[row][column] = LINE_CHAR
    for x, y in zip(result.manual, result.auto, strict=True):
        row, column = cell(float(x), float(y))
        grid[row][column] = POINT_CHAR
    label_width = max(len(f"{y_high:.4g}"), len(f"{y_low:.4g}"))
    lines = []
    for index, cells in enumerate(grid):
        label = f"{y_high:.4g}" if index == 0 else f"{y_low:.4g}" if index == height - 1 else ""
        lines.append(f"{label:>{label_width}} |{''.join(cells)}")
    lines.append(f"{'':>{label_width}} +{'-' * width}")
    left, right = f"{x_low:.4g}", f"{x_high:.4g}"
    gap = max(width - len(left) - len(right), 1)
    lines.append(f"{'':>{label_width}}  {left}{' ' * gap}{right}")
    lines.append(
        f"{'':>{label_width}}  {result.manual_column} (manual) across, "
        f"{result.auto_column} (automatic) up"
    )
    return "\n".join(lines)


def scatter_png(result: CorrelationResult, path: Path | str) -> None:
    """Write a scatter plot of automatic against manual values with the fitted line (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.0, 5.0), dpi=PNG_DPI)
    axes = figure.add_subplot()
    axes.scatter(result.manual, result.auto, s=14, alpha=0.8, label="images")
    x_low, x_high = _span(result.manual)
    xs = np.array([x_low, x_high])
    axes.plot(
        xs,
        result.slope * xs + result.intercept,
        color="tab:red",
        label=f"fit: y = {result.slope:.3g}x {'+' if result.intercept >= 0 else '-'} "
        f"{abs(result.intercept):.3g}",
    )
    axes.set_xlabel(f"{result.manual_column} (manual)")
    axes.set_ylabel(f"{result.auto_column} (automatic)")
    rho = "nan" if math.isnan(result.spearman) else f"{result.spearman:.3f}"
    axes.set_title(f"n = {result.n}, R² = {result.r2:.3f}, Spearman ρ = {rho}")
    axes.legend(loc="best")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(path, buffer.getvalue())
