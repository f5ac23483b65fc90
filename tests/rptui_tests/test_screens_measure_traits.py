"""The measurements screen with root traits: new kinds measured, and a column's histogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from textual.widgets import Checkbox, DataTable, Input

from rptui.store.workspace import Workspace
from rptui.tui.screens.measurements import MeasurementsScreen
from rptui.tui.widgets.column_histogram import ColumnHistogram, column_histogram_line
from tests.rptui_tests.screen_helpers import (
    APP_SIZE,
    make_workspace,
    open_app,
    press_for_screen,
    wait_for,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=1, height=32, width=32)


def histogram_text(screen: MeasurementsScreen) -> str:
    return str(screen.query_one(ColumnHistogram).render())


async def test_h_draws_the_histogram_of_the_column_under_the_cursor(
    workspace: Workspace, tmp_path: Path
) -> None:
    table = pd.DataFrame(
        {
            "file": [f"m{n}.png" for n in range(6)],
            "diameter_mean_px": [1.0, 1.2, 1.1, 4.0, 3.9, None],
            "error": ["", "", "", "", "", "unreadable"],
        }
    )
    path = tmp_path / "traits.csv"
    table.to_csv(path, index=False)
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "m", MeasurementsScreen)
        screen.query_one("#table-path", Input).value = str(path)
        await pilot.press("enter")
        assert not screen.query_one(ColumnHistogram).display
        await pilot.press("right", "h")
        shown = histogram_text(screen)
        assert shown.startswith("diameter_mean_px 1 ") and shown.endswith("median 1.2")
        assert "n 5" in shown  # the failed row is left out
        screen.query_one("#filter", Input).value = "m3"  # the histogram follows the rows shown
        await pilot.pause()
        assert "n 1" in histogram_text(screen)


async def test_root_traits_are_measured_from_the_screen(
    workspace: Workspace, tmp_path: Path
) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((40, 80), np.uint8)
    mask[18:24, 5:70] = 255  # a root 6 px across
    Image.fromarray(mask).save(masks / "root.png")
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "m", MeasurementsScreen)
        screen.query_one("#mask-folder", Input).value = str(masks)
        screen.query_one("#kind-diameter", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "diameter_mean_px" in screen.table.columns, 30)
        grid = screen.query_one("#measurements", DataTable)
        shown = [float(value) for value in grid.get_column("diameter_mean_px")]
        assert shown == pytest.approx([6.0], abs=0.25)


def test_a_histogram_of_text_or_one_value() -> None:
    assert column_histogram_line("file", pd.Series(["a", "b"])) == "file: no numbers to draw"
    assert column_histogram_line("tips", pd.Series([3, 3])).startswith("tips 3 █ 3 · n 2")
