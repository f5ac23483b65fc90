"""Helpers the screen and command-line tests share: a small workspace, the app, waiting.

Imported as a plain module (pyproject's pytest ``pythonpath`` holds this folder).
"""

from __future__ import annotations

from collections.abc import Callable
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

PROJECT = "p"
DATASET = "roots"
APP_SIZE = (100, 30)
POLL_S = 0.05

ScreenType = TypeVar("ScreenType", bound=Screen[Any])


def make_workspace(
    root: Path, *, count: int, height: int, width: int, with_model: bool = False
) -> Workspace:
    """A workspace with ``count`` generated images in DATASET and a closed project PROJECT.

    ``with_model``: the project also gets its random-weights start model.
    """
    workspace = Workspace(root).ensure()
    write_dataset(workspace.dataset_dir(DATASET), count=count, seed=5, height=height, width=width)
    project = workspace.create_project(PROJECT, DATASET, seed=0)
    if with_model:
        ensure_start_model(project)
    project.close()
    return workspace


def open_app(workspace: Workspace, **options: Any) -> RptuiApp:
    """The app on PROJECT, offline unless ``options`` say otherwise, without animations."""
    return RptuiApp(workspace, project=workspace.open_project(PROJECT), animate=False, **options)


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], seconds: float) -> None:
    """Let the app run until ``condition()`` holds; AssertionError after ``seconds``."""
    for _ in range(int(seconds / POLL_S)):
        if condition():
            return
        await pilot.pause(POLL_S)
    raise AssertionError("condition not met in time")


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
