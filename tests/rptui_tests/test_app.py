"""Pilot tests of the annotate screen's keys: brushes, strokes, moving between images,
masks, training, help and remapped keys."""

from __future__ import annotations

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED, TrainerState
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.help import HelpScreen
from tests.rptui_tests.app_stubs import (
    StubBackend,
    demo_app,
    square_mask,
    status_text,
    wait_for,
)
from tests.rptui_tests.screen_helpers import APP_SIZE


async def test_brushes_points_undo_redo_and_sizes(demo_workspace: Workspace) -> None:
    app = demo_app(demo_workspace, StubBackend())
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


async def test_pen_strokes_follow_the_cursor_and_undo_as_one(demo_workspace: Workspace) -> None:
    app = demo_app(demo_workspace, StubBackend())
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


async def test_accept_skip_previous_goto(demo_workspace: Workspace) -> None:
    backend = StubBackend()
    app = demo_app(demo_workspace, backend)
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


async def test_segmentation_arrives_then_x_and_box_fill(demo_workspace: Workspace) -> None:
    backend = StubBackend(square_mask())
    app = demo_app(demo_workspace, backend)
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


async def test_training_key_starts_and_stops(demo_workspace: Workspace) -> None:
    backend = StubBackend()
    app = demo_app(demo_workspace, backend)
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


async def test_help_lists_every_key(demo_workspace: Workspace) -> None:
    app = demo_app(demo_workspace, None)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = {description for _, description in app.screen.rows}
        assert {"Accept", "Undo", "Redo", "Box fill", "Not a root", "Zoom in"} <= described
        await pilot.press("escape")
        assert isinstance(app.screen, AnnotateScreen)


async def test_remapped_key_from_project_settings(demo_workspace: Workspace) -> None:
    project = demo_workspace.open_project("demo")
    project.config.settings.key_bindings = {"annotate.skip": "m"}
    project.save_config()
    app = RptuiApp(demo_workspace, project=project, animate=False)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.press("m")
        assert app.screen.session.viewer.index == 1


async def test_an_unreadable_next_image_does_not_stop_the_masks(demo_workspace: Workspace) -> None:
    project = demo_workspace.open_project("demo")
    project.image_path(1).write_bytes(b"not an image")
    project.config.settings.pre_segment = 2
    project.save_config()
    backend = StubBackend(square_mask())
    app = RptuiApp(demo_workspace, project=project, backend_factory=lambda _: backend)
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
