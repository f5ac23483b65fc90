"""The settings screen: values and keys saved into project.json and used at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input

from rptui.store.lock import ProjectLock
from rptui.store.workspace import Workspace
from rptui.tui.canvas.palettes import COLOURBLIND_PALETTE
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.settings import SettingsScreen
from tests.rptui_tests.screen_helpers import (
    APP_SIZE,
    make_workspace,
    open_app,
    press_for_screen,
    static_text,
)

N_IMAGES = 3


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=N_IMAGES, height=32, width=32)


def saved_settings(workspace: Workspace) -> dict[str, object]:
    return json.loads((workspace.project_dir("p") / "project.json").read_text())["settings"]


async def set_field(pilot: Pilot[None], screen: SettingsScreen, key: str, text: str) -> None:
    screen.query_one(f"#setting-{key}", Input).focus()
    await pilot.press("ctrl+u", *text)


async def choose_binding(pilot: Pilot[None], screen: SettingsScreen, binding_id: str) -> None:
    table = screen.query_one("#bindings", DataTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(binding_id))
    await pilot.press("enter")


async def test_opacity_palette_and_a_key_are_saved_and_used_at_once(
    workspace: Workspace,
) -> None:
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        annotate = app.screen
        assert isinstance(annotate, AnnotateScreen)
        screen = await press_for_screen(pilot, "o", SettingsScreen)
        await set_field(pilot, screen, "overlay_opacity", "0.8")
        await set_field(pilot, screen, "foreground_brush_size", "6")
        screen.query_one("#palette", Checkbox).value = True
        await choose_binding(pilot, screen, "annotate.skip")
        await pilot.press("y")
        assert screen.keymap == {"annotate.skip": "y"}
        await pilot.press("ctrl+s")
        assert app.screen is annotate
        saved = saved_settings(workspace)
        assert saved["overlay_opacity"] == 0.8 and saved["foreground_brush_size"] == 6
        assert saved["palette"] == "colourblind"
        assert saved["key_bindings"] == {"annotate.skip": "y"}
        canvas = annotate.query_one(AnnotationCanvas)
        assert canvas.seg_opacity == 0.8 and canvas.palette == COLOURBLIND_PALETTE
        assert canvas.brush_radius == 6
        await pilot.press("n")  # the old key does nothing now
        assert annotate.session.viewer.index == 0
        await pilot.press("y")
        assert annotate.session.viewer.index == 1


async def test_a_key_in_use_is_refused_and_defaults_come_back(workspace: Workspace) -> None:
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "o", SettingsScreen)
        await choose_binding(pilot, screen, "annotate.skip")
        await pilot.press("q")  # the foreground brush's key
        assert screen.keymap == {}
        message = static_text(screen, "#settings-message")
        assert "q is already used by annotate.brush_foreground" in message
        await choose_binding(pilot, screen, "annotate.skip")
        await pilot.press("y")
        await choose_binding(pilot, screen, "annotate.accept")
        await pilot.press("y")  # now taken by skip
        assert screen.keymap == {"annotate.skip": "y"}
        await pilot.press("ctrl+r")
        assert screen.keymap == {}
        await pilot.press("ctrl+s")
        assert saved_settings(workspace)["key_bindings"] == {}
        await pilot.press("n")
        assert app.screen.session.viewer.index == 1


async def test_a_bad_value_is_named_and_nothing_is_saved(workspace: Workspace) -> None:
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = await press_for_screen(pilot, "o", SettingsScreen)
        await set_field(pilot, screen, "pre_segment", "11")
        await pilot.press("ctrl+s")
        assert app.screen is screen
        message = static_text(screen, "#settings-message")
        assert "Pre-segment ahead: 11 is not in 0–10" in message
        assert saved_settings(workspace)["pre_segment"] == 1


async def test_a_read_only_project_says_it_cannot_save(workspace: Workspace) -> None:
    holder = ProjectLock(workspace.project_dir("p"))  # an rptui from before leases holds it
    holder.acquire()
    try:
        app = open_app(workspace)
        async with app.run_test(size=APP_SIZE) as pilot:
            screen = await press_for_screen(pilot, "o", SettingsScreen)
            message = static_text(screen, "#settings-message")
            assert "read-only project" in message and "cannot be saved" in message
            await set_field(pilot, screen, "overlay_opacity", "0.9")
            await pilot.press("ctrl+s")
            assert app.screen is screen
            assert saved_settings(workspace)["overlay_opacity"] == 0.5
    finally:
        holder.release()


async def test_the_palette_and_the_help_list_the_three_screens(workspace: Workspace) -> None:
    from rptui.tui.screens.help import HelpScreen

    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Segment a folder", "Measurements", "Settings"} <= titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Settings")
        command.callback()
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = dict((action, keys) for keys, action in app.screen.rows)
        assert rows["Settings"] == "o" and rows["Segment folder"] == "b"
        assert rows["Measurements"] == "m"
