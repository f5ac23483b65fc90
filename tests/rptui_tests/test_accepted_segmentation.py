"""Accepting corrections keeps the segmentation they were painted on, for validation."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from cluster.api import BACKGROUND, FOREGROUND, STARTING_VERSION, Segmentation
from rptui.session.review import ReviewSession
from rptui.session.training import annotated_image
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import make_workspace

SIZE = 32


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=3, height=SIZE, width=SIZE, seed=3, project_seed=1)


def _corrected(session: ReviewSession, version: int) -> tuple[str, np.ndarray]:
    """Show a mask of ``version`` on the image on screen and paint two corrections."""
    shown = np.zeros((SIZE, SIZE), np.uint8)
    shown[4:12, 4:12] = 1
    stem = session.viewer.stem
    assert session.presegmenter.receive(Segmentation(stem, shown, shown, version))
    session.viewer.annotation.fill_box(4, 4, 5, 11, value=BACKGROUND)  # a false positive
    session.viewer.annotation.fill_box(20, 20, 22, 22, value=FOREGROUND)  # a missed root
    return stem, shown


def test_a_correction_of_a_trained_model_reaches_the_trainer_and_disk_with_its_mask(
    workspace: Workspace,
) -> None:
    project = workspace.open_project("p")
    session = ReviewSession(project)
    stem, shown = _corrected(session, STARTING_VERSION + 2)
    (sent,) = session.accept()
    assert sent.shown is not None and np.array_equal(sent.shown, shown)
    assert project.accepted_path(stem).is_file()
    # After a restart the trainer gets the same annotation from disk, mask included.
    again = annotated_image(workspace.open_project("p", read_only=True), stem)
    assert again is not None and again.shown is not None
    assert np.array_equal(again.shown, shown) and np.array_equal(again.labels, sent.labels)


def test_paint_over_the_start_models_mask_is_a_clear_example_with_no_mask(
    workspace: Workspace,
) -> None:
    project = workspace.open_project("p")
    session = ReviewSession(project)
    stem, _ = _corrected(session, STARTING_VERSION)
    (sent,) = session.accept()
    assert sent.shown is None and not project.accepted_path(stem).exists()
    loaded = annotated_image(project, stem)
    assert loaded is not None and loaded.shown is None


def test_a_spoilt_accepted_mask_is_logged_and_the_annotation_still_trains(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    project = workspace.open_project("p")
    session = ReviewSession(project)
    stem, _ = _corrected(session, STARTING_VERSION + 1)
    session.accept()
    project.accepted_path(stem).write_bytes(b"not a png")
    with caplog.at_level(logging.WARNING):
        loaded = annotated_image(project, stem)
    assert loaded is not None and loaded.shown is None and loaded.labels.any()
    assert "accepted segmentation" in caplog.text
