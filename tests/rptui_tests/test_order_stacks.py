"""Most uncertain next with stacks: a stack's score is the highest of its scored slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cluster.api import Segmentation
from rptui.session.order import ScoreBook
from rptui.session.review import ReviewSession
from tests.rptui_tests.class_stack_helpers import SIDE, make_class_workspace, open_class_project

N_STACKS = 4


@pytest.fixture
def session(tmp_path: Path) -> ReviewSession:
    workspace = make_class_workspace(tmp_path / "ws", stacks=N_STACKS)
    s = ReviewSession(open_class_project(workspace))
    s.set_order("uncertain")
    return s


def score_slice(session: ReviewSession, index: int, z: int, score: float, version: int) -> None:
    """A segmenter's result for slice ``z`` of stack ``index``, carrying its score."""
    mask = np.zeros((SIDE, SIDE), np.uint8)
    name = session.project.slice_name(index, z)
    session.presegmenter.receive(
        Segmentation(name, mask, mask.astype(np.float16), version, uncertainty=score)
    )


def add_model(session: ReviewSession, version: int) -> None:
    """A newer model file in the project, as the training sync saves one."""
    session.project.models_dir.mkdir(parents=True, exist_ok=True)
    (session.project.models_dir / f"{version:06d}_{1_700_000_000 + version}.pt").write_bytes(b"")


def served_order(session: ReviewSession) -> list[int]:
    served = [session.viewer.index]
    for _ in range(N_STACKS - 1):
        session.skip()
        served.append(session.viewer.index)
    return served


def test_the_stack_with_the_most_uncertain_slice_comes_next(session: ReviewSession) -> None:
    score_slice(session, 3, 0, 0.1, version=1)
    score_slice(session, 3, 2, 0.9, version=1)  # one hard slice among easy ones: stack 3 next
    score_slice(session, 2, 0, 0.5, version=1)
    score_slice(session, 2, 3, 0.6, version=1)
    assert served_order(session) == [0, 3, 2, 1]  # by their highest slice, then the unscored
    book = session.order.scores
    assert book.item(session.project.stem(3)).value == pytest.approx(0.9)  # type: ignore[union-attr]
    assert book.item(session.project.stem(1)) is None


def test_a_slice_scored_by_the_newest_model_outranks_older_slice_scores(
    session: ReviewSession,
) -> None:
    add_model(session, 2)
    score_slice(session, 1, 0, 0.95, version=1)  # stale, and stack 1 has a fresh slice below
    score_slice(session, 1, 1, 0.1, version=2)
    score_slice(session, 2, 0, 0.3, version=2)
    score_slice(session, 3, 0, 0.99, version=1)  # only stale scores: after the fresh stacks
    assert served_order(session) == [0, 2, 1, 3]


def test_stacks_are_scored_under_the_slice_asked_for(session: ReviewSession) -> None:
    session.presegmenter.plan()
    names = session.order.scoring_names()
    assert names == [session.project.slice_name(i, 0) for i in range(1, N_STACKS)]
    score_slice(session, 1, 0, 0.4, version=1)
    assert session.project.slice_name(1, 0) not in session.order.scoring_names()  # received
    session.presegmenter.plan()  # stack 1 has a fresh score now: it is not asked for again
    assert session.project.slice_name(1, 0) not in session.order.scoring_names()


def test_stack_scores_come_back_from_the_saved_book(session: ReviewSession) -> None:
    score_slice(session, 2, 1, 0.7, version=3)
    score_slice(session, 2, 2, 0.2, version=3)
    stem = session.project.stem(2)
    assert session.order.scores.path is not None
    again = ScoreBook.load(session.order.scores.path)
    assert again.item(stem) == session.order.scores.item(stem)
    assert again.item(stem).value == pytest.approx(0.7)  # type: ignore[union-attr]
