"""The review flow without the UI: moving, saving, splits, pre-segmentation, status."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cluster.api import BACKGROUND, FOREGROUND, Segmentation, TrainerState, TrainerStatus
from cluster.io.images import read_mask
from rptui.session.review import ReviewSession
from rptui.session.status import status_line
from rptui.store.annotation_files import from_png_bytes
from rptui.store.paths import WorkspaceError
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import make_workspace

N_IMAGES = 4
SIZE = 32


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(
        tmp_path / "ws", count=N_IMAGES, height=SIZE, width=SIZE, seed=3, project_seed=1
    )


@pytest.fixture
def session(workspace: Workspace) -> ReviewSession:
    return ReviewSession(workspace.open_project("p"))


def test_accept_saves_painted_labels_and_moves_on(session: ReviewSession) -> None:
    stem = session.viewer.stem
    session.brush.paint_point(10, 10)
    items = session.accept()
    assert [(item.name, item.split) for item in items] == [(stem, "val")]
    assert session.viewer.index == 1
    saved = from_png_bytes(session.project.load_annotation_png(stem) or b"")
    assert saved[10, 10] == FOREGROUND
    assert stem in session.project.config.reviewed


def test_accept_without_painting_saves_nothing(session: ReviewSession) -> None:
    assert session.accept() == []
    assert session.project.annotated() == {}
    assert session.project.config.reviewed == {session.project.stem(0)}


def test_splits_follow_the_fixed_rule_and_never_change(session: ReviewSession) -> None:
    splits = []
    for _ in range(3):
        session.brush.paint_point(5, 5)
        (item,) = session.accept()
        splits.append(item.split)
    assert splits == ["val", "train", "train"]
    session.goto("1")
    session.brush.value = BACKGROUND
    session.brush.paint_point(20, 20)
    again = session.saver.save_annotation()
    assert again is not None and again.split == "val"


def test_reopening_resumes_position_and_annotation(workspace: Workspace) -> None:
    first = ReviewSession(workspace.open_project("p"))
    first.skip()
    first.brush.paint_point(8, 8)
    first.accept()
    first.previous()
    first.project.close()
    second = ReviewSession(workspace.open_project("p"))
    assert second.viewer.index == 1
    assert (
        second.viewer.annotation.labels[8, 8] == FOREGROUND and not second.viewer.annotation.dirty
    )


def test_goto_by_number_name_and_error(session: ReviewSession) -> None:
    session.goto("3")
    assert session.viewer.index == 2
    name = session.project.image_names[0]
    session.goto(name)
    assert session.viewer.index == 0
    with pytest.raises(WorkspaceError):
        session.goto("99")
    with pytest.raises(WorkspaceError):
        session.goto("no_such_image")


def test_navigation_stays_in_range(session: ReviewSession) -> None:
    session.previous()
    assert session.viewer.index == 0
    for _ in range(N_IMAGES + 2):
        session.skip()
    assert session.viewer.index == N_IMAGES - 1


def test_the_plan_asks_ahead_and_cancels_what_was_left_behind(session: ReviewSession) -> None:
    session.project.config.settings.pre_segment = 2
    plan = session.presegmenter.plan()
    assert plan.slices == [(0, 0, 0), (1, 0, 1), (2, 0, 2)] and plan.cancels == []
    session.goto("4")
    plan = session.presegmenter.plan()
    assert plan.slices == [(3, 0, 0)]
    assert plan.cancels == sorted(session.project.stem(i) for i in range(3))


def test_segmentation_result_is_saved_and_shown_only_for_current(session: ReviewSession) -> None:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[4:8, 4:8] = 1
    other = session.project.stem(1)
    assert not session.presegmenter.receive(Segmentation(other, mask, mask, 3))
    assert session.viewer.segmentation is None
    assert session.presegmenter.receive(Segmentation(session.viewer.stem, mask, mask, 3))
    assert session.viewer.segmentation is not None and session.viewer.segmentation.sum() == 16
    info = session.project.segmentation_info(other)
    assert info is not None and info.model_version == 3
    assert read_mask(info.path).sum() == 16
    session.skip()
    assert session.viewer.segmentation is not None and session.viewer.segmentation_version == 3


def test_false_positive_marks_the_component_under_cursor(session: ReviewSession) -> None:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[2:6, 2:6] = 1
    mask[20:24, 20:24] = 1
    session.presegmenter.receive(Segmentation(session.viewer.stem, mask, mask, 1))
    assert session.brush.mark_false_positive(30, 30) is None
    assert session.brush.mark_false_positive(3, 3) is not None
    labels = session.viewer.annotation.labels
    assert (labels[2:6, 2:6] == BACKGROUND).all()
    assert (labels[20:24, 20:24] == 0).all()


def test_box_fill_between_two_marks(session: ReviewSession) -> None:
    assert session.brush.box_mark_or_fill(2, 3) is None
    assert session.brush.box_mark_or_fill(6, 1) is not None
    assert (session.viewer.annotation.labels[2:7, 1:4] == FOREGROUND).all()
    assert session.viewer.annotation.count(FOREGROUND) == 15
    assert session.brush.box_mark is None


def test_brush_sizes_are_per_brush_and_clamped(session: ReviewSession) -> None:
    session.brush.set_radius(7)
    session.brush.value = BACKGROUND
    session.brush.set_radius(-5)
    assert session.brush.radius == 0
    session.brush.value = FOREGROUND
    assert session.brush.radius == 7


def test_status_line_text(session: ReviewSession) -> None:
    session.brush.paint_point(1, 1)
    session.accept()
    status = TrainerStatus(
        TrainerState.TRAINING, epoch=12, best_f1=0.734, epochs_since_best=3, model_version=4
    )
    text = status_line(session, status)
    assert text == "2 / 4 · 1 annotated · model #4 F1 0.73 · epoch 12 (3 since best)"
    assert status_line(session, None, offline=True).endswith("offline")


def test_read_only_session_saves_nothing(workspace: Workspace) -> None:
    holder = workspace.open_project("p")
    reader = ReviewSession(workspace.open_project("p", read_only=True))
    assert reader.project.read_only
    reader.brush.paint_point(4, 4)
    assert reader.accept() == []
    assert "read-only" in status_line(reader, None)
    assert holder.annotated() == {}
    holder.close()
