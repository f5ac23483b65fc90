"""Snapshots of the main screens (pytest-textual-snapshot; update with --snapshot-update)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from textual.pilot import Pilot

from cluster.io.images import encode_png
from cluster.simulate.synthetic import write_dataset
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.canvas.widget import AnnotationCanvas

SIZE = 64
SnapCompare = Callable[..., bool]


@pytest.fixture
def app(tmp_path: Path) -> RptuiApp:
    """An offline app on a fixed generated image with a saved segmentation (deterministic)."""
    ws = Workspace(tmp_path / "ws").ensure()
    write_dataset(ws.datasets_dir / "roots", count=3, seed=11, height=SIZE, width=SIZE)
    project = ws.create_project("snap", "roots", seed=4)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[20:44, 28:36] = 255
    project.save_segmentation(project.stem(0), encode_png(mask), 2)
    return RptuiApp(ws, project=project, animate=False)


async def paint_some(pilot: Pilot[None]) -> None:
    """A foreground stroke and a background point, drawn with keys."""
    canvas = pilot.app.screen.query_one(AnnotationCanvas)
    canvas.set_cursor(10, 10)
    await pilot.press("d", "right", "right", "right", "down", "down", "d", "w")
    canvas.set_cursor(50, 50)
    await pilot.press("space")
    await pilot.pause()


def test_annotate_screen(snap_compare: SnapCompare, app: RptuiApp) -> None:
    assert snap_compare(app, terminal_size=(100, 30), run_before=paint_some)


def test_annotate_screen_small_terminal(snap_compare: SnapCompare, app: RptuiApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24))


def test_help_screen(snap_compare: SnapCompare, app: RptuiApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"])


# -- the segment-folder, measurements and settings screens ------------------------------------
SCREEN_SIZES = [(80, 24), (160, 45)]
MODEL_TIME = 1_700_000_000.0  # fixed, so the model's file name is the same on every run


@pytest.fixture
def tool_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RptuiApp:
    """An offline app with one model (F1 recorded) whose paths are relative to the test folder."""
    from dataclasses import replace

    from cluster.nn.model import UNetGNRes
    from cluster.nn.snapshot import snapshot_from_model
    from rptui.session.training import save_model

    monkeypatch.chdir(tmp_path)
    ws = Workspace(Path("ws")).ensure()
    write_dataset(ws.datasets_dir / "roots", count=2, seed=11, height=SIZE, width=SIZE)
    project = ws.create_project("snap", "roots", seed=4)
    snapshot = snapshot_from_model(UNetGNRes(), version=3, f1=0.8125)
    save_model(project, replace(snapshot, created=MODEL_TIME))
    table = "file,length_px,count,error\nroot_000.png,120.5,3,\nroot_001.png,98.25,2,\n"
    table += "broken.png,,,not an image\n"
    Path("measurements.csv").write_text(table)
    return RptuiApp(ws, project=project, animate=False)


async def still_cursors(pilot: Pilot[None]) -> None:
    """No blinking text cursor: a snapshot must not depend on when it is taken."""
    from textual.widgets import Input

    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", SCREEN_SIZES)
def test_segment_folder_screen(snap_compare: SnapCompare, tool_app: RptuiApp, size: tuple) -> None:
    async def fill(pilot: Pilot[None]) -> None:
        from textual.widgets import Input, SelectionList

        await pilot.press("b")
        models = pilot.app.screen.query_one("#models", SelectionList)
        for _ in range(100):  # the models' F1 are read in a worker
            if "F1" in str(models.get_option_at_index(0).prompt):
                break
            await pilot.pause(0.05)
        pilot.app.screen.query_one("#output", Input).value = "masks"
        await still_cursors(pilot)

    assert snap_compare(tool_app, terminal_size=size, run_before=fill)


@pytest.mark.parametrize("size", SCREEN_SIZES)
def test_measurements_screen(snap_compare: SnapCompare, tool_app: RptuiApp, size: tuple) -> None:
    async def load(pilot: Pilot[None]) -> None:
        from rptui.tui.screens.measurements import MeasurementsScreen

        await pilot.app.push_screen(MeasurementsScreen(Path("measurements.csv")))
        await pilot.press("right", "s")
        await still_cursors(pilot)

    assert snap_compare(tool_app, terminal_size=size, run_before=load)


@pytest.mark.parametrize("size", SCREEN_SIZES)
def test_settings_screen(snap_compare: SnapCompare, tool_app: RptuiApp, size: tuple) -> None:
    async def open_settings(pilot: Pilot[None]) -> None:
        await pilot.press("o")
        await still_cursors(pilot)

    assert snap_compare(tool_app, terminal_size=size, run_before=open_settings)
