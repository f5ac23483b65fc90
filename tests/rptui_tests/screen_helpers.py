"""Helpers the screen and command-line tests share: a small workspace, the app, waiting."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from cluster.simulate.synthetic import write_dataset
from rptui.cli import main
from rptui.session.training import ensure_start_model
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from tests.rptui_tests.app_stubs import wait_for as wait_for  # shared with the screen tests

PROJECT = "p"
DATASET = "roots"
APP_SIZE = (100, 30)

ScreenType = TypeVar("ScreenType", bound=Screen[Any])


def make_workspace(
    root: Path,
    *,
    count: int,
    height: int,
    width: int,
    with_model: bool = False,
    seed: int = 5,
    project: str | None = PROJECT,
    project_seed: int = 0,
) -> Workspace:
    """A workspace with ``count`` generated images (from ``seed``) in DATASET and, unless
    ``project`` is None, a closed project of that name (its split seed ``project_seed``).

    ``with_model``: the project also gets its random-weights start model.
    """
    workspace = Workspace(root).ensure()
    write_dataset(
        workspace.dataset_dir(DATASET), count=count, seed=seed, height=height, width=width
    )
    if project is not None:
        opened = workspace.create_project(project, DATASET, seed=project_seed)
        if with_model:
            ensure_start_model(opened)
        opened.close()
    return workspace


def make_demo_workspace(root: Path, *, count: int, size: int) -> Workspace:
    """``count`` generated square images of ``size`` px and a closed project "demo"."""
    return make_workspace(
        root, count=count, height=size, width=size, seed=5, project="demo", project_seed=2
    )


def open_app(workspace: Workspace, **options: Any) -> RptuiApp:
    """The app on PROJECT, offline unless ``options`` say otherwise, without animations."""
    return RptuiApp(workspace, project=workspace.open_project(PROJECT), animate=False, **options)


async def press_for_screen(
    pilot: Pilot[None], key: str, screen_type: type[ScreenType]
) -> ScreenType:
    """Press ``key`` and return the screen it opens (AssertionError if another one shows)."""
    await pilot.press(key)
    screen = pilot.app.screen
    assert isinstance(screen, screen_type)
    return screen


def static_text(screen: Screen[Any], selector: str) -> str:
    """The text a Static widget of ``screen`` shows."""
    return str(screen.query_one(selector, Static).render())


def run_cli(workspace_root: Path, *words: str) -> int:
    """``rptui --workspace ROOT WORDS...``; its exit code."""
    return main(["--workspace", str(workspace_root), *words])
