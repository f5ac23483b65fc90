"""Serving the most uncertain image next: ordering, no repeats, staleness, history, setting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cluster.api import Segmentation
from rptui.session.order import SCORE_PRIORITY, SCORES_FILE_NAME, SCORING_EXTRA, ScoreBook
from rptui.session.review import ReviewSession
from rptui.session.status import status_line
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import make_workspace

N_IMAGES = 8
SIZE = 24


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(
        tmp_path / "ws", count=N_IMAGES, height=SIZE, width=SIZE, seed=4, project_seed=1
    )


@pytest.fixture
def session(workspace: Workspace) -> ReviewSession:
    s = ReviewSession(workspace.open_project("p"))
    s.set_order("uncertain")
    return s


def result(stem: str, score: float, version: int) -> Segmentation:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    return Segmentation(stem, mask, mask.astype(np.float16), version, uncertainty=score)


def add_model(session: ReviewSession, version: int) -> None:
    """A newer model file in the project, as the training sync saves one."""
    session.project.models_dir.mkdir(parents=True, exist_ok=True)
    (session.project.models_dir / f"{version:06d}_{1_700_000_000 + version}.pt").write_bytes(b"")


def score_all(session: ReviewSession, scores: dict[int, float], version: int) -> None:
    for index, score in scores.items():
        session.presegmenter.receive(result(session.project.stem(index), score, version))


def test_the_most_uncertain_image_comes_next_and_none_twice(session: ReviewSession) -> None:
    score_all(session, {2: 0.3, 5: 0.9, 6: 0.1, 7: 0.6}, version=1)
    served = [session.viewer.index]
    for step in range(N_IMAGES + 2):
        session.brush.paint_point(3, 3)
        session.accept() if step % 2 else session.skip()  # accepts and skips alike
        served.append(session.viewer.index)
    assert served[:5] == [0, 5, 7, 2, 6]  # scored, highest first
    assert served[5:8] == [1, 3, 4]  # then the rest in the fixed order
    assert sorted(set(served[:8])) == list(range(N_IMAGES))  # each once
    assert set(served[8:]) == {served[7]}  # nothing left: it stays put


def test_reviewed_and_annotated_images_are_never_served(session: ReviewSession) -> None:
    stems = [session.project.stem(i) for i in range(N_IMAGES)]
    session.project.config.reviewed.add(stems[3])
    session.project.config.splits[stems[4]] = "train"
    score_all(session, {3: 0.9, 4: 0.8, 1: 0.2}, version=1)
    session.skip()
    assert session.viewer.index == 1


def test_a_fresh_score_beats_a_higher_stale_one_and_stale_ones_are_refreshed(
    session: ReviewSession,
) -> None:
    score_all(session, {1: 0.9, 2: 0.5, 3: 0.4}, version=1)
    add_model(session, 2)
    plan = session.presegmenter.plan()
    priorities = {session.project.stem(i): p for i, _, p in plan.slices}
    # never-scored images first, then the stale ones, most uncertain first, all at low priority
    assert priorities[session.viewer.stem] == 0
    scoring = [name for name, p in sorted(priorities.items(), key=lambda kv: kv[1]) if p > 0]
    assert len(scoring) == 1 + SCORING_EXTRA
    assert min(p for p in priorities.values() if p > 0) == SCORE_PRIORITY
    assert scoring == [session.project.stem(i) for i in (4, 5, 6, 7)]
    assert session.order.scoring_names() == sorted(scoring)
    score_all(session, {4: 0.01, 5: 0.02, 6: 0.03, 7: 0.04}, version=2)
    plan = session.presegmenter.plan()
    refresh = [i for i, _, p in plan.slices if p >= SCORE_PRIORITY]
    assert refresh == [1, 2, 3]  # only the stale ones, most uncertain first
    session.presegmenter.receive(result(session.project.stem(3), 0.2, 2))
    assert session.order.scores.get(session.project.stem(3)).model_version == 2  # type: ignore[union-attr]
    # an older model's late result never replaces a newer score
    session.presegmenter.receive(result(session.project.stem(3), 0.99, 1))
    assert session.order.scores.get(session.project.stem(3)).value == pytest.approx(0.2)  # type: ignore[union-attr]
    session.skip()
    assert session.viewer.index == 3  # fresh 0.2 beats stale 0.9 and 0.5
    text = status_line(session, None)
    assert "(older model)" not in text
    assert "uncertainty 0.20" in text
    assert "most uncertain next" in text


def test_previous_goes_back_through_the_images_served(session: ReviewSession) -> None:
    score_all(session, {6: 0.8, 2: 0.7, 4: 0.6}, version=1)
    session.skip()
    session.skip()
    session.goto("8")
    assert session.viewer.index == 7
    session.previous()
    assert session.viewer.index == 2
    session.previous()
    assert session.viewer.index == 6
    session.skip()  # retraces what was served before serving anything new
    assert session.viewer.index == 2
    session.skip()
    session.skip()
    assert session.viewer.index == 4


def test_the_order_and_the_scores_are_kept_in_the_project(workspace: Workspace) -> None:
    session = ReviewSession(workspace.open_project("p"))
    assert session.order.mode == "sequential"
    assert session.toggle_order() == "uncertain"
    score_all(session, {3: 0.4}, version=2)
    session.project.close()
    saved = json.loads((workspace.project_dir("p") / "project.json").read_text())
    assert saved["settings"]["order"] == "uncertain"
    again = ReviewSession(workspace.open_project("p"))
    assert again.order.mode == "uncertain"
    score = again.order.scores.get(again.project.stem(3))
    assert score is not None and score.value == pytest.approx(0.4) and score.model_version == 2
    again.skip()
    assert again.viewer.index == 3
    assert again.toggle_order() == "sequential"
    again.skip()
    assert again.viewer.index == 4  # the fixed order again


def test_a_corrupt_scores_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / SCORES_FILE_NAME
    path.write_text("{not json")
    book = ScoreBook.load(path)
    assert len(book) == 0
    assert book.record("a", 0.5, 3)
    assert ScoreBook.load(path).get("a") is not None


def test_images_skipped_in_an_earlier_session_are_not_served_again(
    workspace: Workspace,
) -> None:
    first = ReviewSession(workspace.open_project("p"))
    first.set_order("uncertain")
    score_all(first, {3: 0.9, 5: 0.8, 6: 0.7}, version=1)
    first.skip()
    first.skip()
    assert first.viewer.index == 5
    first.project.close()

    again = ReviewSession(workspace.open_project("p"))  # reopened: where the user left off
    assert again.order.mode == "uncertain" and again.viewer.index == 5
    served = [again.viewer.index]
    for _ in range(3):
        again.skip()
        served.append(again.viewer.index)
    assert 3 not in served, "served in the earlier session"
    assert served[:2] == [5, 6]
    assert again.project.config.served[:2] == [again.project.stem(3), again.project.stem(5)]
