"""The screens a new user meets first: tables kept out of data folders, a stuck run cancelled,
the model list, tick boxes in 256 colours, every key in help, the footer, colour advice."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.color import ColorSystem
from rich.segment import Segment
from textual.widgets import Checkbox, DataTable, Footer, Input, ProgressBar, SelectionList
from textual.widgets._footer import FooterKey

from cluster.io.model_files import load_model_file
from rptui.session.training import save_model
from rptui.store.workspace import Workspace
from rptui.tui.screens.help import HelpScreen
from rptui.tui.screens.measurements import MeasurementsScreen
from rptui.tui.screens.segment_folder import SegmentFolderScreen
from tests.rptui_tests.screen_helpers import (
    APP_SIZE,
    PROJECT,
    make_workspace,
    open_app,
    press_for_screen,
    static_text,
    wait_for,
)

MODELS = 6
WIDE = (160, 40)
WAITING = "waiting 15 s for 1 CPU (0.5 free): held by trainer:p (CPU 1)"
# A child ``rptui segment`` stuck as on a busy head: it says why, then waits.
STUCK_CHILD = [
    sys.executable,
    "-c",
    f"import time; print({json.dumps(json.dumps({'waiting': WAITING}))}, flush=True); "
    "time.sleep(600)",
]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=2, height=40, width=56, with_model=True)


def add_models(workspace: Workspace, count: int) -> list[Path]:
    """``count`` more models (copies of #1 with higher numbers); every model file, oldest first."""
    with workspace.open_project(PROJECT) as project:
        first = load_model_file(project.models()[0].path)
        for number in range(2, count + 2):
            save_model(project, first.__class__(**{**first.__dict__, "version": number}))
        return [info.path for info in project.models()]


async def test_measuring_writes_into_the_workspace_never_the_masks_folder(
    workspace: Workspace, tmp_path: Path
) -> None:
    masks = tmp_path / "shared masks"
    masks.mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(masks / "a.png")
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "m", MeasurementsScreen)
        screen.query_one("#mask-folder", Input).value = str(masks)
        await pilot.pause()
        target = workspace.root / "results" / "shared masks" / "measurements.csv"
        assert screen.query_one("#table-target", Input).value == str(target)
        screen.query_one("#kind-regions", Checkbox).value = True  # the name follows the kinds
        screen.query_one("#kind-length", Checkbox).value = False
        screen.query_one("#kind-count", Checkbox).value = False
        await pilot.pause()
        regions = target.with_name("regions.csv")
        assert screen.query_one("#table-target", Input).value == str(regions)
        chosen = tmp_path / "mine" / "table.csv"
        screen.query_one("#table-target", Input).value = str(chosen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: chosen.is_file(), 30)
        await wait_for(pilot, lambda: screen.query_one("#table-path", Input).value != "", 5)
        assert screen.query_one("#table-path", Input).value == str(chosen)  # the path shown
        assert [path.name for path in masks.iterdir()] == ["a.png"]
        screen.query_one("#table-target", Input).value = str(tmp_path / "table.txt")
        await pilot.press("ctrl+s")
        assert "must end in .csv or .parquet" in static_text(screen, "#table-summary")


async def test_a_stuck_run_says_why_and_cancelling_it_says_cancelled(
    workspace: Workspace, tmp_path: Path
) -> None:
    app = open_app(workspace, command=STUCK_CHILD)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "b", SegmentFolderScreen)
        screen.query_one("#output", Input).value = str(tmp_path / "out")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: static_text(screen, "#progress-text") == WAITING, 30)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.running, 30)
        assert static_text(screen, "#progress-text") == "cancelled after 0 of ? images"
        summary = static_text(screen, "#summary")
        assert summary.startswith("cancelled") and "no images" not in summary
        assert not screen.query_one("#progress", ProgressBar).display  # no bar left animating


async def test_the_newest_model_is_ticked_and_in_view(workspace: Workspace) -> None:
    paths = add_models(workspace, MODELS - 1)
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "b", SegmentFolderScreen)
        await app.workers.wait_for_complete()  # the models' F1 read, the list shown again
        await pilot.pause()
        models = screen.query_one("#models", SelectionList)
        assert models.selected == [paths[-1]]
        assert models.get_option_at_index(0).value == paths[-1]  # the first row
        assert models.size.height == MODELS  # every model in view (up to eight rows)


def _button(line: list[Segment]) -> Segment:
    return next(segment for segment in line if segment.text == "X")


async def test_ticked_and_unticked_boxes_differ_in_256_colours(workspace: Workspace) -> None:
    add_models(workspace, 1)
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "b", SegmentFolderScreen)
        models = screen.query_one("#models", SelectionList)
        ticked, unticked = (_button(list(models.render_line(row))) for row in (0, 1))
        for box, seen in ((ticked, True), (unticked, False)):
            assert box.style is not None and box.style.color and box.style.bgcolor
            colour = box.style.color.downgrade(ColorSystem.EIGHT_BIT)
            ground = box.style.bgcolor.downgrade(ColorSystem.EIGHT_BIT)
            assert (colour != ground) is seen  # an unticked box shows no X at all
        for box_id, seen in (("#kind-length", True), ("#kind-tips", False)):
            box = screen.query_one(box_id, Checkbox)
            assert box.value is seen
            style = box.get_component_rich_style("toggle--button")
            assert style.color is not None and style.bgcolor is not None
            colour = style.color.downgrade(ColorSystem.EIGHT_BIT)
            assert (colour != style.bgcolor.downgrade(ColorSystem.EIGHT_BIT)) is seen


async def test_help_lists_quit_and_the_palette(workspace: Workspace) -> None:
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "question_mark", HelpScreen)
        table = screen.query_one("#keys-table", DataTable)
        rows = dict(table.get_row_at(row) for row in range(table.row_count))
        assert rows["ctrl+q"] == "Quit" and rows["ctrl+p"].startswith("Command palette")


async def test_a_binary_projects_palette_has_no_class_keys(workspace: Workspace) -> None:
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE):
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Accept" in titles and not any(title.startswith("Class ") for title in titles)


async def test_every_footer_key_fits_in_160_columns(workspace: Workspace) -> None:
    app = open_app(workspace)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause()
        keys = list(app.screen.query_one(Footer).query(FooterKey))
        palette = [key for key in keys if key.key_display == "^p"]
        others = [key for key in keys if key not in palette]
        assert palette and others
        right_end = max(key.region.right for key in others)
        assert right_end <= palette[0].region.x and palette[0].region.right <= WIDE[0]


@pytest.mark.parametrize(("colorterm", "advised"), [("", True), ("truecolor", False)])
async def test_few_colours_are_said_once_at_the_start(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, colorterm: str, advised: bool
) -> None:
    monkeypatch.setenv("TERM", "tmux-256color")
    monkeypatch.setenv("COLORTERM", colorterm)
    app = open_app(workspace, advise_colours=True)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.pause()
        messages = [note.message for note in app._notifications]
        said = [text for text in messages if "COLORTERM=truecolor" in text]
        assert len(said) == int(advised)
        if advised:
            assert "256 colours" in said[0]
