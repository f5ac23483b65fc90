"""The app's order key, the score in the status line and the score histogram."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.api import Segmentation
from cluster.io.images import encode_png
from rptui.session.order import SCORES_FILE_NAME, ScoreBook
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.widgets.score_histogram import ScoreHistogram, histogram_bars
from rptui.tui.widgets.status_line import StatusLine
from tests.rptui_tests.app_stubs import ScoringBackend, stub_score, wait_for
from tests.rptui_tests.screen_helpers import make_demo_workspace

SIZE = 32
N_IMAGES = 5
APP_SIZE = (140, 30)  # wide enough for the status line in full


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_demo_workspace(tmp_path / "ws", count=N_IMAGES, size=SIZE)


def test_histogram_bars_count_scores_in_bins() -> None:
    bars, top = histogram_bars([0.01, 0.02, 0.03, 0.38], bins=4)
    assert top == pytest.approx(0.4)
    assert bars == "█  ▃"  # three low scores, one high


def _demo_app(workspace: Workspace, backend: ScoringBackend) -> RptuiApp:
    """The app on the demo project, with ``backend`` as its backend."""
    return RptuiApp(
        workspace,
        project=workspace.open_project("demo"),
        backend_factory=lambda _: backend,
        animate=False,
    )


async def test_the_order_key_scores_images_and_serves_the_most_uncertain(
    workspace: Workspace,
) -> None:
    backend = ScoringBackend()
    app = _demo_app(workspace, backend)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        session = screen.session
        histogram = screen.query_one(ScoreHistogram)
        status = screen.query_one(StatusLine)
        await wait_for(pilot, lambda: "uncertainty" in str(status.render()), 8.0)
        assert session.order.mode == "sequential" and histogram.display
        await pilot.press("v")
        assert session.order.mode == "uncertain"
        assert "most uncertain next" in str(status.render())
        # the other images are scored in the background and show in the histogram
        await wait_for(pilot, lambda: len(session.order.scores) == N_IMAGES, 8.0)
        await wait_for(pilot, lambda: f"{N_IMAGES} images" in str(histogram.render()), 8.0)
        assert str(histogram.render()).startswith("scores 0 ")
        scored = {session.project.stem(i): i for i in range(N_IMAGES) if i != session.viewer.index}
        best = max(scored, key=stub_score)
        await pilot.press("n")
        assert session.viewer.stem == best
        await wait_for(
            pilot, lambda: f"uncertainty {stub_score(best):.2f}" in str(status.render()), 8.0
        )
        assert session.project.config.settings.order == "uncertain"


def old_model_everywhere(workspace: Workspace, backend: ScoringBackend) -> None:
    """Masks and scores by model 1 saved for every image and kept by the segmenter; the
    project holds model 2 (the newest the app knows)."""
    project = workspace.open_project("demo")
    try:
        project.models_dir.mkdir(parents=True, exist_ok=True)
        (project.models_dir / "000002_1700000002.pt").write_bytes(b"")
        book = ScoreBook.load(project.root / SCORES_FILE_NAME)
        for i in range(N_IMAGES):
            old = backend.make(project.stem(i), (SIZE, SIZE), 1)
            backend.keep(old)
            project.save_segmentation(old.name, encode_png(old.mask * 255), 1)
            book.record(old.name, stub_score(old.name), 1)
    finally:
        project.close()


class NewestLater(ScoringBackend):
    """Segments with model 2, whose masks are held until :meth:`release` (however slow the
    machine, the test sees what the app shows before they come)."""

    def __init__(self) -> None:
        super().__init__(version=2)
        self.held: list[Segmentation] | None = []

    def keep(self, result: Segmentation) -> None:
        if self.held is not None and result.model_version == self.version:
            self.held.append(result)
        else:
            super().keep(result)

    def release(self) -> None:
        held, self.held = self.held or [], None
        for result in held:
            super().keep(result)


@pytest.mark.parametrize("order", ["sequential", "uncertain"])
async def test_the_mask_of_an_older_model_is_shown_then_replaced_by_the_newest(
    workspace: Workspace, order: str
) -> None:
    backend = NewestLater()
    old_model_everywhere(workspace, backend)
    app = _demo_app(workspace, backend)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        session = screen.session
        assert screen.link.model_version == 2
        if order == "uncertain":
            await pilot.press("v")
        await pilot.press("n")
        stem = session.viewer.stem
        # the best there is, at once: model 1's mask (empty)
        assert session.viewer.segmentation_version == 1 and not session.viewer.segmentation.any()  # type: ignore[union-attr]
        backend.release()  # model 2's masks come
        await wait_for(pilot, lambda: session.viewer.segmentation_version == 2, 8.0)
        assert any(r.name == stem and r.priority == 0 for r in backend.requests)
        assert session.viewer.stem == stem and session.viewer.segmentation.all()  # type: ignore[union-attr]
        assert screen.canvas._segmentation is session.viewer.segmentation
        # a late result of the older model never brings the old mask back
        assert not session.presegmenter.receive(backend.make(stem, (SIZE, SIZE), 1))
        assert session.viewer.segmentation_version == 2
