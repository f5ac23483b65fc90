"""Snapshots of the main screens (pytest-textual-snapshot; update with --snapshot-update)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from textual.pilot import Pilot

from cluster.images import encode_png
from cluster.synthetic import write_dataset
from rptui.tui.app import RptuiApp
from rptui.tui.canvas import AnnotationCanvas
from rptui.workspace import Workspace

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
