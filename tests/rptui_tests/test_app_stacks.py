"""Stacks in the app: PageUp/PageDown through slices, one annotation per slice, Enter saves all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from textual.pilot import Pilot

from rptui.session.review import ReviewSession
from rptui.session.status import status_line
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.widgets.status_line import StatusLine
from tests.rptui_tests.app_stubs import StubBackend, wait_for
from tests.rptui_tests.class_stack_helpers import (
    SLICES,
    make_class_workspace,
    open_class_project,
    saved_labels,
)

SnapCompare = Callable[..., bool]
ROOT_VALUE = 3  # label of class 2 (root): class index 2 + 1
GRAIN_VALUE = 4  # label of class 3 (grain)


def _app(workspace: Workspace, backend: StubBackend | None = None) -> RptuiApp:
    factory = (lambda _: backend) if backend is not None else None
    project = open_class_project(workspace)
    return RptuiApp(workspace, project=project, backend_factory=factory, animate=False)


async def test_two_slices_painted_in_two_classes_are_saved_and_sent_on_enter(
    tmp_path: Path,
) -> None:
    workspace = make_class_workspace(tmp_path / "ws")
    backend = StubBackend()
    app = _app(workspace, backend)
    async with app.run_test(size=(100, 30)) as pilot:
        session: ReviewSession = app.screen.session  # type: ignore[attr-defined]
        canvas = app.screen.query_one(AnnotationCanvas)
        stem = session.viewer.stem
        canvas.set_cursor(10, 12)
        await pilot.press("3", "space", "pagedown")
        assert (
            session.viewer.z == 1 and session.viewer.annotation.is_empty
        )  # slice 2 has its own labels
        assert "slice 2/4" in str(app.screen.query_one(StatusLine).render())
        canvas.set_cursor(30, 5)
        await pilot.press("2", "space", "enter")
        await wait_for(pilot, lambda: len(backend.added) == 2)
        project = session.project
        first, second = (
            saved_labels(project, f"{stem}.z0001"),
            saved_labels(project, f"{stem}.z0002"),
        )
        assert first[10, 12] == GRAIN_VALUE and set(np.unique(first)) == {0, GRAIN_VALUE}
        assert second[30, 5] == ROOT_VALUE and set(np.unique(second)) == {0, ROOT_VALUE}
        sent = {item.name: item for item in backend.added}
        assert set(sent) == {f"{stem}.z0001", f"{stem}.z0002"}
        np.testing.assert_array_equal(sent[f"{stem}.z0001"].labels, first)
        np.testing.assert_array_equal(sent[f"{stem}.z0002"].labels, second)
        assert sent[f"{stem}.z0002"].image.shape[:2] == second.shape
        assert stem in project.config.reviewed and session.viewer.index == 1
        assert set(project.config.splits) == set(sent)  # each slice has its own split


async def test_each_slice_keeps_its_own_undo_while_the_stack_is_open(tmp_path: Path) -> None:
    app = _app(make_class_workspace(tmp_path / "ws"))
    async with app.run_test(size=(100, 30)) as pilot:
        session: ReviewSession = app.screen.session  # type: ignore[attr-defined]
        # the next slice is read in a worker before PageDown asks for it
        await wait_for(
            pilot, lambda: session.viewer.cached_image(session.viewer.index, 1) is not None
        )
        canvas = app.screen.query_one(AnnotationCanvas)
        canvas.set_cursor(5, 5)
        await pilot.press("space", "pagedown")
        canvas.set_cursor(20, 20)
        await pilot.press("space", "space", "pageup")
        assert session.viewer.z == 0 and session.viewer.annotation.labels[5, 5] != 0
        await pilot.press("z")  # undoes slice 1's dab only
        assert session.viewer.annotation.is_empty
        await pilot.press("pagedown")
        assert session.viewer.annotation.labels[20, 20] != 0 and session.viewer.annotation.can_undo


def test_a_stack_reopens_on_the_slice_the_user_left(tmp_path: Path) -> None:
    workspace = make_class_workspace(tmp_path / "ws")
    project = open_class_project(workspace)
    session = ReviewSession(project)
    session.viewer.show_slice(2)
    session.save_settings()
    project.close()
    again = ReviewSession(open_class_project(workspace))
    assert again.viewer.z == 2 and again.viewer.name == f"{again.viewer.stem}.z0003"
    assert status_line(again, None).startswith(f"1 / 2 · slice 3/{SLICES}")


def test_presegmentation_asks_for_the_slice_on_screen_then_its_neighbours(
    tmp_path: Path,
) -> None:
    session = ReviewSession(open_class_project(make_class_workspace(tmp_path / "ws")))
    session.viewer.show_slice(1)
    plan = session.presegmenter.plan()
    named = [(session.viewer.name_of(i, z), priority) for i, z, priority in plan.slices]
    stem, after = session.viewer.stem, session.project.stem(1)
    assert named[0] == (f"{stem}.z0002", 0)
    assert sorted(named[1:3]) == [(f"{stem}.z0001", 1), (f"{stem}.z0003", 1)]
    assert named[3:] == [(f"{after}.z0001", 2)]  # then the next item, as before


async def test_a_slice_mask_is_saved_under_the_slice_name_and_shown(tmp_path: Path) -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[:, 20:] = 2
    app = _app(make_class_workspace(tmp_path / "ws"), StubBackend(mask))
    async with app.run_test(size=(100, 30)) as pilot:
        session: ReviewSession = app.screen.session  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: session.viewer.segmentation is not None)
        info = session.project.segmentation_info(f"{session.viewer.stem}.z0001")
        assert info is not None and info.model_version is not None
        np.testing.assert_array_equal(session.viewer.segmentation, mask)


async def _paint_two_classes(pilot: Pilot[None]) -> None:
    canvas = pilot.app.screen.query_one(AnnotationCanvas)
    canvas.set_cursor(8, 8)
    await pilot.press("3", "d", "right", "right", "right", "d")
    canvas.set_cursor(30, 30)
    await pilot.press("pagedown", "1", "space")
    await pilot.pause()


def test_stack_project_snapshot(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = _app(make_class_workspace(tmp_path / "ws"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=_paint_two_classes)


def test_go_to_a_slice_name_opens_that_slice(tmp_path: Path) -> None:
    session = ReviewSession(open_class_project(make_class_workspace(tmp_path / "ws")))
    target = f"{session.project.stem(1)}.z0004"
    session.goto(target)
    assert (session.viewer.index, session.viewer.z, session.viewer.name) == (1, 3, target)
