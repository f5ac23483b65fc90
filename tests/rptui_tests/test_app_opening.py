"""Pilot tests of opening a project: the picker lists, opens and creates projects; a
project held whole by an older rptui (its project lock) opens read-only."""

from __future__ import annotations

from rptui.store.lock import ProjectLock
from rptui.store.workspace import Workspace
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.picker import ProjectPickerScreen
from tests.rptui_tests.app_stubs import DEMO_IMAGES, demo_app, status_text, wait_for
from tests.rptui_tests.screen_helpers import APP_SIZE


async def test_picker_lists_and_opens_projects(demo_workspace: Workspace) -> None:
    app = demo_app(demo_workspace, project=None)
    async with app.run_test(size=APP_SIZE) as pilot:
        assert isinstance(app.screen, ProjectPickerScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateScreen))
        assert app.project is not None and app.project.name == "demo"


async def test_picker_creates_a_project(demo_workspace: Workspace) -> None:
    app = demo_app(demo_workspace, project=None)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("c", *"new", "enter", *"roots", "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateScreen))
        assert app.project is not None and app.project.name == "new"
        assert len(app.project) == DEMO_IMAGES


async def test_project_held_whole_by_an_older_rptui_opens_read_only(
    demo_workspace: Workspace,
) -> None:
    holder = ProjectLock(demo_workspace.project_dir("demo"))  # what an rptui before leases takes
    holder.acquire()
    app = demo_app(demo_workspace, None)
    async with app.run_test(size=APP_SIZE) as pilot:
        session = app.screen.session
        assert "read-only" in status_text(app)
        await pilot.press("space", "enter")
        assert session.project.annotated() == {}
    holder.release()
