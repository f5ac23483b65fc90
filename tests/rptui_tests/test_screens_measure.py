"""The measurements screen: load a table, sort by a column, filter by name, measure masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from textual.widgets import Checkbox, DataTable, Input

from rptui.folders.table_view import summary_line
from rptui.store.workspace import Workspace
from rptui.tui.screens.measurements import MeasurementsScreen
from tests.rptui_tests.screen_helpers import (
    APP_SIZE,
    make_workspace,
    open_app,
    press_for_screen,
    static_text,
    wait_for,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=1, height=32, width=32)


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    table = pd.DataFrame(
        {
            "file": ["b_plant.png", "a_plant.png", "c_weed.png", "d_bad.png"],
            "length_px": [20.0, 35.5, 10.0, None],
            "count": [2, 1, 4, None],
            "error": ["", "", "", "not an image"],
        }
    )
    path = tmp_path / "measurements.csv"
    table.to_csv(path, index=False)
    return path


def column(screen: MeasurementsScreen, name: str) -> list[str]:
    grid = screen.query_one("#measurements", DataTable)
    return [str(value) for value in grid.get_column(name)]


async def test_a_table_loads_sorts_and_filters(workspace: Workspace, table_path: Path) -> None:
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "m", MeasurementsScreen)
        screen.query_one("#table-path", Input).value = str(table_path)
        await pilot.press("enter")
        assert len(screen.table) == 4
        assert column(screen, "file") == ["b_plant.png", "a_plant.png", "c_weed.png", "d_bad.png"]
        summary = static_text(screen, "#table-summary")
        assert "n 3 · 1 failed" in summary and "length_px mean 21.83 total 65.5" in summary
        assert "count mean 2.333 total 7" in summary
        await pilot.press("right", "s")  # the cursor's column: length_px, ascending
        assert column(screen, "file") == ["c_weed.png", "b_plant.png", "a_plant.png", "d_bad.png"]
        await pilot.press("s")  # again: descending, missing values still last
        assert column(screen, "file") == ["a_plant.png", "b_plant.png", "c_weed.png", "d_bad.png"]
        screen.query_one("#filter", Input).focus()
        await pilot.press(*"PLANT")
        assert column(screen, "file") == ["a_plant.png", "b_plant.png"]
        summary = static_text(screen, "#table-summary")
        assert summary.startswith("n 2") and "length_px mean 27.75 total 55.5" in summary
        await pilot.press("escape")
        assert not isinstance(app.screen, MeasurementsScreen)


async def test_a_missing_table_is_named(workspace: Workspace, tmp_path: Path) -> None:
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("m")
        app.screen.query_one("#table-path", Input).value = str(tmp_path / "none.csv")
        await pilot.press("enter")
        summary = static_text(app.screen, "#table-summary")
        assert f"no such table: {tmp_path / 'none.csv'}" in summary


async def test_masks_are_measured_from_the_screen(workspace: Workspace, tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    for n, squares in enumerate((1, 3)):
        mask = np.zeros((40, 40), np.uint8)
        for k in range(squares):
            mask[2 + 12 * k : 8 + 12 * k, 5:30] = 255
        Image.fromarray(mask).save(masks / f"mask_{n}.png")
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "m", MeasurementsScreen)
        screen.query_one("#mask-folder", Input).value = str(masks)
        screen.query_one("#kind-length", Checkbox).value = False  # count only
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(screen.table) == 2, 30)
        assert column(screen, "count") == ["1", "3"]
        written = pd.read_csv(workspace.root / "results" / "masks" / "measurements.csv")
        assert list(written["count"]) == [1, 3]
        assert sorted(path.name for path in masks.iterdir()) == ["mask_0.png", "mask_1.png"]
        screen.query_one("#kind-regions", Checkbox).value = True
        await pilot.press("ctrl+s")  # regions cannot be mixed with per-image kinds
        assert "regions" in static_text(screen, "#table-summary")


def test_the_summary_leaves_failed_rows_out() -> None:
    rows = pd.DataFrame({"file": ["a", "b"], "count": [3, None], "error": ["", "bad file"]})
    assert summary_line(rows) == "n 1 · 1 failed · count mean 3 total 3"
