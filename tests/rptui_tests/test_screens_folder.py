"""The segment-folder screen: a folder through the project's model, in a worker, from keys."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, SelectionList

import rptui.tui.screens.segment_folder as folder_screen
from cluster.io.mask_formats import read_label_stack
from cluster.measure.tables import STACK_COLUMN
from rptui.folders.tables import VOLUME_TABLE_NAME
from rptui.store.workspace import Workspace
from rptui.tui.screens.measurements import MeasurementsScreen
from rptui.tui.screens.segment_folder import SegmentFolderScreen
from tests.rptui_tests.screen_helpers import (
    APP_SIZE,
    DATASET,
    make_workspace,
    open_app,
    press_for_screen,
    static_text,
    wait_for,
)

STACK_SLICES = 3
SECONDS_PER_IMAGE = 0.4  # each image made slow, so keys can be pressed while the run goes on


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """Two tiny generated images and a corrupt one; a project with a random-weights model."""
    ws = make_workspace(tmp_path / "ws", count=2, height=40, width=56, with_model=True)
    (ws.dataset_dir(DATASET) / "broken.png").write_bytes(b"not a png at all")
    return ws


@pytest.fixture
def slow_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every image of a run take a while (as large images do)."""
    real = folder_screen.segment_folder

    def slow(*args: Any, on_progress: Any = None, **kwargs: Any) -> Any:
        def progress(*values: Any) -> None:
            time.sleep(SECONDS_PER_IMAGE)
            on_progress(*values)

        return real(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(folder_screen, "segment_folder", slow)


def child_rptui(workspace: Workspace) -> list[str]:
    """The ``rptui`` command line the app runs folders with (in-process: no Ray in tests)."""
    return [sys.executable, "-m", "rptui.cli", "--workspace", str(workspace.root), "--in-process"]


async def open_screen(pilot: Pilot[None], out: Path) -> SegmentFolderScreen:
    screen = await press_for_screen(pilot, "b", SegmentFolderScreen)
    screen.query_one("#output", Input).value = str(out)
    screen.query_one("#tta", Checkbox).value = False
    screen.query_one("#kind-count", Checkbox).value = True
    return screen


async def test_a_folder_is_segmented_while_keys_still_work(
    workspace: Workspace, tmp_path: Path, slow_images: None
) -> None:
    out = tmp_path / "masks"
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_screen(pilot, out)
        models = screen.query_one("#models", SelectionList)
        assert len(models.selected) == 1  # the project's newest model, ticked
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.progress[0] >= 1, 30)
        assert screen.running
        before = app.focused
        await pilot.press("tab")
        assert app.focused is not before and screen.running  # handled during the run
        await wait_for(pilot, lambda: not screen.running, 60)
        assert screen.progress == (3, 3)
        assert sorted(p.name for p in out.glob("*.png")) == ["root_000.png", "root_001.png"]
        mask = np.asarray(Image.open(out / "root_000.png"))
        assert mask.shape == (40, 56) and set(np.unique(mask)) <= {0, 255}
        assert screen.report is not None
        assert [path.name for path, _ in screen.report.failed] == ["broken.png"]
        summary = static_text(screen, "#summary")
        assert "2 masks written" in summary and "failed broken.png" in summary
        table = pd.read_csv(out / "measurements.csv")
        assert {"length_px", "count"} <= set(table.columns) and len(table) == 3
        await pilot.press("ctrl+t")
        assert isinstance(app.screen, MeasurementsScreen)
        assert len(app.screen.table) == 3


async def test_cancel_stops_after_the_current_image(
    workspace: Workspace, tmp_path: Path, slow_images: None
) -> None:
    out = tmp_path / "masks"
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_screen(pilot, out)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.running, 10)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.running, 60)
        assert isinstance(app.screen, SegmentFolderScreen)  # Escape cancelled, did not leave
        assert screen.report is not None and screen.report.cancelled
        assert screen.progress[0] < 3
        assert "cancelled" in static_text(screen, "#summary")
        await pilot.press("escape")
        assert not isinstance(app.screen, SegmentFolderScreen)


async def test_a_missing_folder_is_named_and_nothing_starts(
    workspace: Workspace, tmp_path: Path
) -> None:
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_screen(pilot, tmp_path / "masks")
        source = screen.query_one("#source", Input)
        source.focus()
        await pilot.press("ctrl+u", *"/no/such/dir")
        message = static_text(screen, "#form-message")
        assert "no such folder: /no/such/dir" in message
        await pilot.press("ctrl+s")
        assert not screen.running and not (tmp_path / "masks").exists()


async def test_a_folder_runs_as_a_child_rptui_segment_when_the_app_has_one(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The app's way with Ray: a child ``rptui segment`` (here in-process) reports JSON lines."""
    out = tmp_path / "masks"
    command = child_rptui(workspace)
    app = open_app(workspace, command=command)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_screen(pilot, out)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.running, 10)
        await wait_for(pilot, lambda: not screen.running, 120)
        assert screen.progress == (3, 3)
        assert sorted(p.name for p in out.glob("*.png")) == ["root_000.png", "root_001.png"]
        assert screen.report is not None
        assert [path.name for path, _ in screen.report.failed] == ["broken.png"]
        assert screen.tables == [out / "measurements.csv"]
        assert len(pd.read_csv(out / "measurements.csv")) == 3
        summary = static_text(screen, "#summary")
        assert "2 masks written" in summary and "failed broken.png" in summary


async def test_a_child_run_that_fails_says_why(workspace: Workspace, tmp_path: Path) -> None:
    command = child_rptui(workspace)
    app = open_app(workspace, command=command)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_screen(pilot, tmp_path / "masks")
        model = screen.query_one("#models", SelectionList).selected[0]
        model.unlink()  # gone before the run starts: the child names it and exits
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.running, 10)
        await wait_for(pilot, lambda: not screen.running, 60)
        summary = static_text(screen, "#summary")
        assert summary.startswith("stopped:") and model.name in summary
        assert screen.report is None


async def test_a_stack_in_the_folder_gets_its_volume_table_in_the_app(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The in-app run writes ``volumes.csv`` for stacks, as ``rptui segment`` does."""
    rng = np.random.default_rng(0)
    slices = rng.integers(0, 255, (STACK_SLICES, 40, 56), dtype=np.uint8)
    tifffile.imwrite(workspace.dataset_dir(DATASET) / "scan.tif", slices, photometric="minisblack")
    out = tmp_path / "masks"
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await open_screen(pilot, out)
        await pilot.press("ctrl+s")  # a quick run: it may end before a poll sees it running
        await wait_for(pilot, lambda: screen.report is not None and not screen.running, 120)
        volumes = out / VOLUME_TABLE_NAME
        assert screen.tables == [out / "measurements.csv", volumes]
        assert f"table: {volumes}" in static_text(screen, "#summary")
        masks, _ = read_label_stack(out / "scan.tif")
        assert masks.shape == (STACK_SLICES, 40, 56)
        table = pd.read_csv(volumes)
        assert list(table[STACK_COLUMN]) == ["scan.tif"]  # one foreground class, one stack
        assert table["voxels"].iloc[0] == int(np.count_nonzero(masks))
