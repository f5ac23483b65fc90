"""Correlating automatic with manual measurements: figures, matching, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rptui.errors import UserError
from rptui.folders.correlate import correlate, match_key, scatter_png, text_scatter


def _known_r2_tables(r2: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """auto = 2 × manual + 1 + a residual orthogonal to the fit, scaled to give ``r2``."""
    manual = np.arange(12, dtype=float)
    rng = np.random.default_rng(0)
    design = np.stack([np.ones_like(manual), manual], axis=1)
    noise = rng.standard_normal(manual.size)
    noise -= design @ np.linalg.lstsq(design, noise, rcond=None)[0]
    explained = 4.0 * ((manual - manual.mean()) ** 2).sum()
    noise *= np.sqrt(explained * (1.0 / r2 - 1.0) / (noise**2).sum())
    names = [f"img{i}" for i in range(manual.size)]
    auto = pd.DataFrame({"file": [f"{n}.png" for n in names], "length_px": 2 * manual + 1 + noise})
    manual_table = pd.DataFrame({"file": [f"{n}.jpg" for n in names], "ruler": manual})
    return auto, manual_table


def test_known_r2_slope_and_intercept() -> None:
    auto, manual = _known_r2_tables(0.8)
    result = correlate(auto, manual, auto_column="length_px", manual_column="ruler")
    assert result.n == 12
    assert result.r2 == pytest.approx(0.8)
    assert result.slope == pytest.approx(2.0)
    assert result.intercept == pytest.approx(1.0)
    assert -1.0 <= result.spearman <= 1.0
    assert not result.unmatched_auto and not result.unmatched_manual


def test_spearman_sees_a_monotone_curve_that_r2_does_not() -> None:
    x = np.linspace(1, 10, 15)
    auto = pd.DataFrame({"file": [f"{i}" for i in range(15)], "a": np.exp(x)})
    manual = pd.DataFrame({"file": [f"{i}" for i in range(15)], "m": x})
    result = correlate(auto, manual, auto_column="a", manual_column="m")
    assert result.spearman == pytest.approx(1.0)
    assert result.r2 < 0.8


def test_match_key_uses_file_stems() -> None:
    assert match_key("a.png") == match_key("a.jpg") == match_key("masks/a.PNG") == "a"
    assert match_key("a") == "a"
    assert match_key("plot.3") == "plot.3"  # not a file suffix: kept
    assert match_key(7) == "7"


def test_unmatched_and_missing_rows_are_listed_not_dropped() -> None:
    auto = pd.DataFrame(
        {"file": ["a.png", "b.png", "c.png", "d.png", "only_auto.png"], "v": [1, 2, 3, None, 5]}
    )
    manual = pd.DataFrame({"file": ["a", "b", "c", "d", "only_manual"], "w": [1.5, 2.0, 3.5, 4, 9]})
    result = correlate(auto, manual, auto_column="v", manual_column="w")
    assert result.n == 3
    assert result.keys == ["a", "b", "c"]
    assert result.unmatched_auto == ["only_auto"]
    assert result.unmatched_manual == ["only_manual"]
    assert result.missing_values == ["d"]


def test_user_errors_are_explained() -> None:
    auto = pd.DataFrame({"file": ["a", "a", "b", "c"], "v": [1, 2, 3, 4]})
    manual = pd.DataFrame({"file": ["a", "b", "c"], "w": [1, 2, 3]})
    with pytest.raises(UserError, match="several rows for a"):
        correlate(auto, manual, auto_column="v", manual_column="w")
    with pytest.raises(UserError, match="no column 'nope'"):
        correlate(manual, manual, auto_column="nope", manual_column="w")
    few = pd.DataFrame({"file": ["a", "b"], "v": [1, 2]})
    with pytest.raises(UserError, match="only 2 rows"):
        correlate(few, manual, auto_column="v", manual_column="w")


def test_scatter_png_and_text_plot(tmp_path: Path) -> None:
    auto, manual = _known_r2_tables(0.95)
    result = correlate(auto, manual, auto_column="length_px", manual_column="ruler")
    path = tmp_path / "plot.png"
    scatter_png(result, path)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 300
    text = text_scatter(result, width=60, height=20)
    lines = text.splitlines()
    grid = [line.split("|", 1)[1] for line in lines[:20]]
    assert all(len(row) == 60 for row in grid)
    assert sum(row.count("o") for row in grid) >= 8  # points (a few may share a cell)
    # A rising fit: the line starts low on the left and ends high on the right.
    first_row = next(i for i, row in enumerate(grid) if row[0] in "o.")
    last_row = next(i for i, row in enumerate(grid) if row[-1] in "o.")
    assert last_row < first_row
