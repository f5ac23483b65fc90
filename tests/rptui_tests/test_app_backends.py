"""Pilot tests of the app's backend: offline, failing, lost and back again, local and
in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.api import TrainerState
from cluster.simulate.synthetic import write_dataset
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from tests.rptui_tests.app_stubs import (
    DEMO_SIZE,
    LosesHead,
    StubBackend,
    demo_app,
    quick_polls,
    square_mask,
    status_text,
    wait_for,
)
from tests.rptui_tests.screen_helpers import APP_SIZE


async def test_offline_still_saves_annotations(demo_workspace: Workspace) -> None:
    app = demo_app(demo_workspace, None)
    async with app.run_test(size=APP_SIZE) as pilot:
        session = app.screen.session
        assert "offline" in status_text(app)
        stem = session.viewer.stem
        await pilot.press("space", "enter", "t")
        assert session.project.load_annotation_png(stem) is not None


async def test_failing_backend_means_offline(demo_workspace: Workspace) -> None:
    def broken(name: str) -> StubBackend:
        raise ConnectionError("no cluster")

    app = RptuiApp(
        demo_workspace,
        project=demo_workspace.open_project("demo"),
        backend_factory=broken,
        animate=False,
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_for(pilot, lambda: "offline" in status_text(app))


class GoneBackend(LosesHead, StubBackend):
    """A backend whose Ray went away: its status calls fail once ``gone`` is set."""

    def __init__(self) -> None:
        super().__init__(square_mask())


async def test_lost_backend_goes_offline_then_reconnects_and_resumes_training(
    demo_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_polls(monkeypatch)
    first, second = GoneBackend(), StubBackend(square_mask())
    backends = iter([first, second])
    project = demo_workspace.open_project("demo")
    app = RptuiApp(demo_workspace, project=project, backend_factory=lambda _: next(backends))
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_for(pilot, lambda: app.screen.link.backend is first)
        await pilot.press("t")
        await wait_for(pilot, lambda: first.state == TrainerState.TRAINING)
        first.gone = True
        await wait_for(pilot, lambda: "offline" in status_text(app))

        stem = app.screen.session.viewer.stem
        await pilot.press("space", "enter")  # annotation goes on while offline
        assert project.load_annotation_png(stem) is not None
        await wait_for(pilot, lambda: second.state == TrainerState.TRAINING, seconds=10)
        await wait_for(pilot, lambda: "offline" not in status_text(app))  # the next refresh
        assert stem in {item.name for item in second.added}, "saved offline, synced when back"
        assert app.backend is second, "the app closes the new backend on exit"


async def test_local_backend_segments_the_image_on_screen(demo_workspace: Workspace) -> None:
    from cluster.backends.local import LocalBackend

    app = RptuiApp(
        demo_workspace,
        project=demo_workspace.open_project("demo"),
        backend_factory=lambda _: LocalBackend(segment_tile_size=140, tta=False),
        animate=False,
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        session = app.screen.session
        await wait_for(pilot, lambda: session.viewer.segmentation is not None, seconds=30)
        assert session.viewer.segmentation.shape == (DEMO_SIZE, DEMO_SIZE)
        assert session.project.segmentation_info(session.viewer.stem) is not None


async def test_in_process_backend_starts_from_the_projects_newest_model(tmp_path: Path) -> None:
    from cluster.api import Backend
    from rptui.cli import build_parser
    from rptui.commands.common import make_backend
    from rptui.session.training import ensure_start_model
    from rptui.store.workspace import Workspace

    workspace = Workspace(tmp_path / "ws").ensure()
    write_dataset(workspace.dataset_dir("d"), count=1, seed=0, height=32, width=32)
    project = workspace.create_project("p", "d", seed=0)
    ensure_start_model(project)
    project.close()
    args = build_parser().parse_args(["--workspace", str(workspace.root), "--in-process", "open"])
    backend = make_backend(args, "p")
    try:
        assert isinstance(backend, Backend)
        newest = await backend.newest_model()
        assert newest is not None and newest.version == 1
    finally:
        await backend.close()
