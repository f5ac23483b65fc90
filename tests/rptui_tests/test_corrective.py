"""Corrective metrics: the pure scores, the CSV log of accepted images, the panel's plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Label, Sparkline

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED, Segmentation
from cluster.io.images import encode_png
from rptui.session.corrective import (
    CORRECTION_COLUMNS,
    append_correction,
    corrected_mask,
    correction_record,
    corrective_metrics,
    read_corrections,
)
from rptui.session.review import ReviewSession
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.widgets.training_panel import TrainingPanel
from tests.rptui_tests.screen_helpers import make_workspace

SIZE = 32
N_IMAGES = 3
F, B, U = FOREGROUND, BACKGROUND, UNLABELLED


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(
        tmp_path / "ws", count=N_IMAGES, height=SIZE, width=SIZE, seed=3, project_seed=1
    )


def square(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def test_metrics_on_a_hand_made_case() -> None:
    shown = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], np.uint8)
    labels = np.array([[U, B, F, U], [U, U, U, B]], np.uint8)
    # corrected: [[1, 0, 1, 0], [1, 0, 0, 0]] -> TP 2 (kept), FP 1 (erased), FN 1 (added), TN 4
    assert corrected_mask(shown, labels).tolist() == [[1, 0, 1, 0], [1, 0, 0, 0]]
    m = corrective_metrics(shown, labels)
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 1, 4, 1)
    assert m.accuracy == pytest.approx(6 / 8)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)


def test_untouched_segmentation_scores_perfect_even_when_empty() -> None:
    shown = square(2, 6, 2, 6)
    m = corrective_metrics(shown, np.zeros_like(shown))
    assert (m.fp, m.fn, m.f1, m.accuracy) == (0, 0, 1.0, 1.0)
    empty = corrective_metrics(np.zeros_like(shown), np.zeros_like(shown))
    assert empty.f1 == 1.0 and math.isnan(empty.precision) and math.isnan(empty.recall)


def test_all_missed_foreground_scores_zero() -> None:
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[5:9, 5:9] = F
    m = corrective_metrics(np.zeros_like(labels), labels)
    assert (m.tp, m.fn, m.f1, m.recall) == (0, 16, 0.0, 0.0)
    assert math.isnan(m.precision)


def test_counts_agree_with_the_corrected_mask_on_random_images() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        shown = (rng.random((SIZE, SIZE)) > 0.7).astype(np.uint8)
        labels = rng.choice([U, B, F], size=(SIZE, SIZE), p=[0.8, 0.1, 0.1]).astype(np.uint8)
        truth = corrected_mask(shown, labels)
        predicted = shown > 0
        m = corrective_metrics(shown, labels)
        assert m.tp == np.sum(predicted & truth) and m.fp == np.sum(predicted & ~truth)
        assert m.fn == np.sum(~predicted & truth) and m.tn == np.sum(~predicted & ~truth)


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        corrective_metrics(np.zeros((4, 4)), np.zeros((4, 5), np.uint8))


def test_csv_round_trip_keeps_values_and_blanks(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "corrections.csv"
    labels = np.array([[F, B], [U, U]], np.uint8)
    with_model = correction_record(
        image="a", labels=labels, shown=np.zeros((2, 2)), model_version=4, seconds=12.5, time=1.0
    )
    without = correction_record(
        image="b", labels=labels, shown=None, model_version=9, seconds=3.0, time=2.0
    )
    append_correction(path, with_model)
    append_correction(path, without)
    assert path.read_text().splitlines()[0] == ",".join(CORRECTION_COLUMNS)
    first, second = read_corrections(path)
    assert first.image == "a" and first.model_version == 4 and first.seconds == 12.5
    assert (first.tp, first.fn, first.tn, first.fp) == (0, 1, 3, 0)
    assert first.precision is None and first.recall == 0.0 and first.f1 == 0.0
    assert (second.model_version, second.f1, second.tp) == (None, None, None)
    assert (second.annotated_fg, second.annotated_bg, second.seconds) == (1, 1, 3.0)


def test_accept_logs_one_row_per_image_with_time_and_version(workspace: Workspace) -> None:
    clock = FakeClock()
    session = ReviewSession(workspace.open_project("p"), clock=clock)
    shown = square(4, 8, 4, 8)  # 16 predicted pixels
    assert session.presegmenter.receive(Segmentation(session.viewer.stem, shown, shown, 3))
    clock.now += 7.0
    first = session.viewer.stem
    session.viewer.annotation.fill_box(4, 4, 4, 7, value=BACKGROUND)  # 4 false positives
    session.viewer.annotation.fill_box(20, 20, 21, 21, value=FOREGROUND)  # 4 missed pixels
    session.accept()
    clock.now += 2.0
    second = session.viewer.stem
    session.accept()  # no segmentation shown for image 2
    rows = read_corrections(session.saver.corrections_log)
    assert [r.image for r in rows] == [first, second]
    row = rows[0]
    assert row.model_version == 3 and row.seconds == pytest.approx(7.0)
    assert (row.tp, row.fp, row.fn, row.tn) == (12, 4, 4, SIZE * SIZE - 20)
    assert row.f1 == pytest.approx(24 / 32) and row.precision == pytest.approx(0.75)
    assert (row.annotated_fg, row.annotated_bg) == (4, 4)
    assert (
        session.saver.last_correction is not None and session.saver.last_correction.image == second
    )
    blank = rows[1]
    assert blank.seconds == pytest.approx(2.0) and blank.f1 is None and blank.model_version is None


def test_clock_restarts_when_the_segmentation_arrives_before_painting(
    workspace: Workspace,
) -> None:
    clock = FakeClock()
    session = ReviewSession(workspace.open_project("p"), clock=clock)
    clock.now += 30.0  # waiting for the segmenter
    mask = square(0, 2, 0, 2)
    session.presegmenter.receive(Segmentation(session.viewer.stem, mask, mask, 1))
    clock.now += 5.0
    session.accept()
    assert session.saver.last_correction is not None
    assert session.saver.last_correction.seconds == pytest.approx(5.0)


def test_read_only_session_logs_nothing(workspace: Workspace) -> None:
    holder = workspace.open_project("p")
    session = ReviewSession(workspace.open_project("p", read_only=True))
    assert session.project.read_only
    session.accept()
    assert session.saver.last_correction is None and not session.saver.corrections_log.exists()
    holder.close()


async def test_panel_plots_corrected_f1_and_seconds_after_accept(workspace: Workspace) -> None:
    project = workspace.open_project("p")
    shown = np.zeros((SIZE, SIZE), np.uint8)
    shown[8:16, 8:16] = 255
    project.save_segmentation(project.stem(0), encode_png(shown), 5)
    app = RptuiApp(workspace, project=project, animate=False)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        panel = screen.query_one(TrainingPanel)
        assert panel.query_one("#image-f1-plot", Sparkline).data == []
        await pilot.press("enter", "enter")  # image 1 approved as shown; image 2 had none
        await pilot.pause()
        assert panel.query_one("#image-f1-plot", Sparkline).data == [1.0]
        assert len(panel.query_one("#seconds-plot", Sparkline).data or []) == 2
        caption = str(panel.query_one("#image-f1-caption", Label).render())
        assert "1.00" in caption and "#5" in caption
    assert len(read_corrections(project.logs_dir / "corrections.csv")) == 2
