"""Typed project settings: read with their types and ranges, a bad one named and replaced
by its default, project.json left as the user wrote it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rptui.store.settings import BOUNDS, ProjectSettings, setting_names
from rptui.store.workspace import Workspace
from rptui.tui.canvas.palettes import PALETTES
from rptui.tui.screens.annotate import AnnotateScreen
from tests.rptui_tests.screen_helpers import APP_SIZE, PROJECT, make_workspace, open_app, wait_for

BAD_SETTINGS = {
    "overlay_opacity": "abc",
    "pre_segment": 99,
    "foreground_brush_size": 2.5,
    "palette": ["default"],
    "key_bindings": {"annotate.skip": 7},
    "order": None,
    "stack_slices": {"scan": 0},
}


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=2, height=32, width=40)


def project_file(workspace: Workspace) -> Path:
    return workspace.project_dir(PROJECT) / "project.json"


def write_settings(workspace: Workspace, settings: dict[str, object]) -> bytes:
    path = project_file(workspace)
    content = json.loads(path.read_text())
    content["settings"] = {**content["settings"], **settings}
    path.write_text(json.dumps(content))
    return path.read_bytes()


def test_every_bad_setting_is_named_and_its_default_used(workspace: Workspace) -> None:
    written = write_settings(workspace, BAD_SETTINGS)
    defaults = ProjectSettings()
    with workspace.open_project(PROJECT) as project:
        settings = project.config.settings
        for name in BAD_SETTINGS:
            assert getattr(settings, name) == getattr(defaults, name), name
        named = "\n".join(settings.problems)
        assert all(f"settings.{name}" in named for name in BAD_SETTINGS), named
        assert len(settings.problems) == len(BAD_SETTINGS)
    assert project_file(workspace).read_bytes() == written  # opening changed nothing


def test_a_bad_value_stays_in_the_file_until_the_user_changes_it(workspace: Workspace) -> None:
    write_settings(workspace, {"overlay_opacity": "abc", "future_setting": [1, 2]})
    with workspace.open_project(PROJECT) as project:
        project.set_position(1, reviewed=True)  # any save rewrites project.json
        saved = json.loads(project_file(workspace).read_text())["settings"]
        assert saved["overlay_opacity"] == "abc" and saved["future_setting"] == [1, 2]
        project.config.settings.update({"overlay_opacity": 0.3})
        project.save_config()
    saved = json.loads(project_file(workspace).read_text())["settings"]
    assert saved["overlay_opacity"] == 0.3 and saved["future_setting"] == [1, 2]


def test_the_file_keeps_the_keys_rootpainter_and_older_versions_read(
    workspace: Workspace,
) -> None:
    saved = json.loads(project_file(workspace).read_text())["settings"]
    assert set(saved) == set(setting_names()) - {"stack_slices"}
    assert ProjectSettings.from_json(saved) == ProjectSettings()


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_numbers_out_of_range_are_refused_and_the_ends_accepted(name: str) -> None:
    bounds = BOUNDS[name]
    for value in (bounds.low, bounds.high):
        assert ProjectSettings.from_json({name: value}).problems == []
    for value in (bounds.low - 1, bounds.high + 1, True, float("nan"), "1"):
        settings = ProjectSettings.from_json({name: value})
        assert len(settings.problems) == 1 and name in settings.problems[0]
    with pytest.raises(ValueError, match=name):
        ProjectSettings().update({name: bounds.high + 1})


def test_every_palette_of_the_app_is_a_valid_setting() -> None:
    for name in PALETTES:
        assert ProjectSettings.from_json({"palette": name}).palette == name


def test_settings_that_are_not_an_object_give_the_defaults() -> None:
    settings = ProjectSettings.from_json(["not", "an", "object"])
    assert settings == ProjectSettings() and len(settings.problems) == 1


async def test_the_app_opens_a_project_with_bad_settings_and_says_which(
    workspace: Workspace,
) -> None:
    write_settings(workspace, {"overlay_opacity": "abc"})
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateScreen), 10)
        messages = [note.message for note in app._notifications]
        assert any("settings.overlay_opacity" in message for message in messages), messages
        await pilot.press("n")  # the app goes on working
        await pilot.pause()
        assert isinstance(app.screen, AnnotateScreen)
    assert app.return_code in (None, 0)
