"""Pilot tests of the terminal app: every screen and the annotate screen's keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    UNLABELLED,
    TrainerState,
    TrainerStatus,
)
from cluster.simulate.synthetic import write_dataset
from rptui.store.lock import ProjectLock
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.help import HelpScreen
from rptui.tui.screens.picker import ProjectPickerScreen
from rptui.tui.widgets.status_line import StatusLine
from rptui.tui.widgets.training_panel import TrainingPanel
from tests.rptui_tests.app_stubs import StubBackend, quick_polls, wait_for
from tests.rptui_tests.screen_helpers import make_demo_workspace

SIZE = 64
N_IMAGES = 4
APP_SIZE = (100, 30)


def square_mask() -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[10:20, 10:20] = 1
    return mask


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_demo_workspace(tmp_path / "ws", count=N_IMAGES, size=SIZE)


def make_app(
    workspace: Workspace, backend: StubBackend | None = None, *, open_project: bool = True
) -> RptuiApp:
    factory: Callable[[str], StubBackend] | None = (lambda _: backend) if backend else None
    project = workspace.open_project("demo") if open_project else None
    return RptuiApp(workspace, project=project, backend_factory=factory, animate=False)


def status_text(app: RptuiApp) -> str:
    return str(app.screen.query_one(StatusLine).render())


async def test_brushes_points_undo_redo_and_sizes(workspace: Workspace) -> None:
    app = make_app(workspace, StubBackend())
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        session = screen.session
        canvas = screen.query_one(AnnotationCanvas)
        assert status_text(app).startswith("⠋ segmenting · 1 / 4 · 0 annotated")
        y, x = canvas.cursor_image_position
        await pilot.press("space")
        assert session.viewer.annotation.labels[y, x] == FOREGROUND
        await pilot.press("w", "right_square_bracket", "right_square_bracket")
        assert session.brush.radius == 11 and canvas.brush_value == BACKGROUND
        await pilot.press("left_square_bracket")
        assert canvas.brush_radius == 10
        await pilot.press("space")
        assert session.viewer.annotation.labels[y, x] == BACKGROUND
        await pilot.press("z")
        assert session.viewer.annotation.labels[y, x] == FOREGROUND
        await pilot.press("shift+z")
        assert session.viewer.annotation.labels[y, x] == BACKGROUND
        await pilot.press("e", "space")
        assert session.viewer.annotation.labels[y, x] == UNLABELLED
        await pilot.press("q")
        assert "foreground" in status_text(app)


async def test_pen_strokes_follow_the_cursor_and_undo_as_one(workspace: Workspace) -> None:
    app = make_app(workspace, StubBackend())
    async with app.run_test(size=APP_SIZE) as pilot:
        session = app.screen.session
        canvas = app.screen.query_one(AnnotationCanvas)
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert session.brush.radius == 0
        y, x = canvas.cursor_image_position
        await pilot.press("d", "right", "right", "right", "d")
        await pilot.pause()
        _, x_end = canvas.cursor_image_position
        assert x_end > x
        assert (session.viewer.annotation.labels[y, x : x_end + 1] == FOREGROUND).all()
        await pilot.press("right", "right")
        assert session.viewer.annotation.count(FOREGROUND) == x_end - x + 1
        await pilot.press("z")
        assert session.viewer.annotation.is_empty


async def test_accept_skip_previous_goto(workspace: Workspace) -> None:
    backend = StubBackend()
    app = make_app(workspace, backend)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        session = screen.session
        first = session.viewer.stem
        await pilot.press("space", "enter")
        await wait_for(pilot, lambda: len(backend.added) == 1)
        assert backend.added[0].name == first
        assert session.project.split_of(first) == "val"
        assert session.viewer.index == 1
        assert "2 / 4 · 1 annotated" in status_text(app)
        await pilot.press("n")
        assert session.viewer.index == 2
        await pilot.press("p", "p")
        assert session.viewer.index == 0
        assert session.viewer.annotation.count(FOREGROUND) > 0
        await pilot.press("g")
        await pilot.press("4", "enter")
        assert session.viewer.index == 3
        await pilot.press("g", "9", "enter")
        assert session.viewer.index == 3
        await pilot.press("g", "escape")
        assert isinstance(app.screen, AnnotateScreen)
        await wait_for(pilot, lambda: session.viewer.stem in {r.name for r in backend.requests})
        assert first in backend.cancelled


async def test_segmentation_arrives_then_x_and_box_fill(workspace: Workspace) -> None:
    backend = StubBackend(square_mask())
    app = make_app(workspace, backend)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        session = screen.session
        await wait_for(pilot, lambda: session.viewer.segmentation is not None)
        assert "segmenting" not in status_text(app)
        assert session.project.segmentation_info(session.viewer.stem).model_version == 7
        canvas = screen.query_one(AnnotationCanvas)
        canvas.set_cursor(15, 15)
        await pilot.press("x")
        labels = session.viewer.annotation.labels
        assert (labels[10:20, 10:20] == BACKGROUND).all() and labels[30, 30] == UNLABELLED
        canvas.set_cursor(40, 40)
        await pilot.press("q", "r")
        canvas.set_cursor(44, 50)
        await pilot.press("r")
        assert (session.viewer.annotation.labels[40:45, 40:51] == FOREGROUND).all()


async def test_training_key_starts_and_stops(workspace: Workspace) -> None:
    backend = StubBackend()
    app = make_app(workspace, backend)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.link.backend is not None)
        await pilot.press("t")
        await wait_for(pilot, lambda: backend.state == TrainerState.TRAINING)
        assert backend.started_with is not None and backend.started_with.version == 1
        assert screen.session.project.newest_model() is not None
        await wait_for(pilot, lambda: "epoch 5" in status_text(app))  # the trainer's epoch
        await pilot.press("t")
        await wait_for(pilot, lambda: backend.state == TrainerState.STOPPED)


async def test_offline_still_saves_annotations(workspace: Workspace) -> None:
    app = make_app(workspace, None)
    async with app.run_test(size=APP_SIZE) as pilot:
        session = app.screen.session
        assert "offline" in status_text(app)
        stem = session.viewer.stem
        await pilot.press("space", "enter", "t")
        assert session.project.load_annotation_png(stem) is not None


async def test_failing_backend_means_offline(workspace: Workspace) -> None:
    def broken(name: str) -> StubBackend:
        raise ConnectionError("no cluster")

    app = RptuiApp(
        workspace, project=workspace.open_project("demo"), backend_factory=broken, animate=False
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        await wait_for(pilot, lambda: "offline" in status_text(app))


async def test_project_held_whole_by_an_older_rptui_opens_read_only(
    workspace: Workspace,
) -> None:
    holder = ProjectLock(workspace.project_dir("demo"))  # what an rptui before leases takes
    holder.acquire()
    app = make_app(workspace, None)
    async with app.run_test(size=APP_SIZE) as pilot:
        session = app.screen.session
        assert "read-only" in status_text(app)
        await pilot.press("space", "enter")
        assert session.project.annotated() == {}
    holder.release()


async def test_help_lists_every_key(workspace: Workspace) -> None:
    app = make_app(workspace, None)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = {description for _, description in app.screen.rows}
        assert {"Accept", "Undo", "Redo", "Box fill", "Not a root", "Zoom in"} <= described
        await pilot.press("escape")
        assert isinstance(app.screen, AnnotateScreen)


async def test_remapped_key_from_project_settings(workspace: Workspace) -> None:
    project = workspace.open_project("demo")
    project.config.settings.key_bindings = {"annotate.skip": "m"}
    project.save_config()
    app = RptuiApp(workspace, project=project, animate=False)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("m")
        assert app.screen.session.viewer.index == 1


async def test_picker_lists_and_opens_projects(workspace: Workspace) -> None:
    app = make_app(workspace, None, open_project=False)
    async with app.run_test(size=APP_SIZE) as pilot:
        assert isinstance(app.screen, ProjectPickerScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateScreen))
        assert app.project is not None and app.project.name == "demo"


async def test_picker_creates_a_project(workspace: Workspace) -> None:
    app = make_app(workspace, None, open_project=False)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("c", *"new", "enter", *"roots", "enter", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateScreen))
        assert app.project is not None and app.project.name == "new"
        assert len(app.project) == N_IMAGES


async def test_local_backend_segments_the_image_on_screen(workspace: Workspace) -> None:
    from cluster.backends.local import LocalBackend

    app = RptuiApp(
        workspace,
        project=workspace.open_project("demo"),
        backend_factory=lambda _: LocalBackend(segment_tile_size=140, tta=False),
        animate=False,
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        session = app.screen.session
        await wait_for(pilot, lambda: session.viewer.segmentation is not None, seconds=30)
        assert session.viewer.segmentation.shape == (SIZE, SIZE)
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


def count_refreshes(monkeypatch: pytest.MonkeyPatch, widgets: list[Widget]) -> list[Widget]:
    """Record every ``refresh`` of the given widgets (or their children) from now on."""
    calls: list[Widget] = []
    original = Widget.refresh

    def counting(self: Widget, *args: object, **kwargs: object) -> Widget:
        if any(self is w or w in self.ancestors for w in widgets):
            calls.append(self)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Widget, "refresh", counting)
    return calls


async def test_idle_polls_redraw_nothing_and_changes_redraw(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = StubBackend(square_mask())
    app = make_app(workspace, backend)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.session.viewer.segmentation is not None)
        await screen.link.sync_once()
        await pilot.pause()
        panel = screen.query_one(TrainingPanel)
        status_line = screen.query_one(StatusLine)
        calls = count_refreshes(monkeypatch, [panel, status_line])
        for _ in range(5):
            await screen.link.sync_once()
        await pilot.pause()
        assert calls == []
        assert len(panel.f1_history) == 1

        backend.state = TrainerState.TRAINING
        backend.epoch = 6
        await screen.link.sync_once()
        await pilot.pause()
        assert "epoch 6" in status_text(app)
        assert status_line in calls
        assert any(w is not status_line for w in calls)
        assert "training: training" in str(panel.query_one("#training-state", Static).render())
        assert len(panel.f1_history) == 2


async def test_training_panel_fits_a_small_terminal(workspace: Workspace) -> None:
    backend = StubBackend(square_mask())
    backend.state = TrainerState.TRAINING
    app = make_app(workspace, backend)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        panel = screen.query_one(TrainingPanel)
        await wait_for(pilot, lambda: panel.last_status is not None)
        await pilot.pause()
        state = panel.query_one("#training-state", Static)
        assert state.region.height == 4  # no label wraps
        bottom = panel.query_one("#seconds-plot", Sparkline).region
        assert bottom.height >= 1
        assert bottom.bottom <= panel.content_region.bottom


class GoneBackend(StubBackend):
    """A backend whose Ray went away: every call fails once ``gone`` is set."""

    def __init__(self) -> None:
        super().__init__(square_mask())
        self.gone = False

    async def status(self) -> TrainerStatus:
        if self.gone:
            raise ConnectionError("the head stopped")
        return await super().status()


async def test_lost_backend_goes_offline_then_reconnects_and_resumes_training(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_polls(monkeypatch)
    first, second = GoneBackend(), StubBackend(square_mask())
    backends = iter([first, second])
    project = workspace.open_project("demo")
    app = RptuiApp(workspace, project=project, backend_factory=lambda _: next(backends))
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


async def test_an_unreadable_next_image_does_not_stop_the_masks(workspace: Workspace) -> None:
    project = workspace.open_project("demo")
    project.image_path(1).write_bytes(b"not an image")
    project.config.settings.pre_segment = 2
    project.save_config()
    backend = StubBackend(square_mask())
    app = RptuiApp(workspace, project=project, backend_factory=lambda _: backend)
    async with app.run_test(size=APP_SIZE) as pilot:
        session = app.screen.session
        await wait_for(pilot, lambda: session.viewer.segmentation is not None)
        requested = {request.name for request in backend.requests}
        assert project.stem(2) in requested, "images after the unreadable one are still queued"
        assert project.stem(1) not in requested

        await pilot.press("n")  # the unreadable image: a placeholder and a message
        assert (
            session.viewer.problem is not None
            and project.config.images[1] in session.viewer.problem
        )
        assert "not shown" in status_text(app)
        await pilot.press("space", "enter")
        assert project.load_annotation_png(project.stem(1)) is None, "nothing saved for it"
        assert session.viewer.index == 2
