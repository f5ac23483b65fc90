"""The app's order key, the score in the status line and the score histogram."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from textual.pilot import Pilot

from cluster.api import (
    AnnotatedImage,
    ModelSnapshot,
    Segmentation,
    SegmentationRequest,
    TrainerState,
    TrainerStatus,
    TrainingConfig,
)
from cluster.synthetic import write_dataset
from rptui.tui.app import RptuiApp
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.widgets.score_histogram import ScoreHistogram, histogram_bars
from rptui.tui.widgets.status_line import StatusLine
from rptui.workspace import Workspace

SIZE = 32
N_IMAGES = 5
APP_SIZE = (100, 30)


class ScoringBackend:
    """Segments every requested image at once with a score that grows with its name."""

    def __init__(self) -> None:
        self.requests: list[SegmentationRequest] = []
        self.done: dict[str, Segmentation] = {}

    def score(self, name: str) -> float:
        return 0.1 + 0.1 * (sum(map(ord, name)) % 7)

    async def add_annotation(self, item: AnnotatedImage) -> None:
        pass

    async def remove_annotation(self, name: str) -> None:
        pass

    async def start_training(
        self, config: TrainingConfig, start_model: ModelSnapshot | None = None
    ) -> None:
        pass

    async def stop_training(self) -> None:
        pass

    async def status(self) -> TrainerStatus:
        return TrainerStatus(TrainerState.STOPPED)

    async def newest_model(self, newer_than: int = 0) -> ModelSnapshot | None:
        return None

    async def epoch_log(self, since_epoch: int = 0) -> list:
        return []

    async def request_segmentation(self, request: SegmentationRequest) -> None:
        self.requests.append(request)
        mask = np.zeros(request.image.shape[:2], np.uint8)
        self.done[request.name] = Segmentation(
            request.name, mask, mask.astype(np.float16), 1, uncertainty=self.score(request.name)
        )

    async def cancel_segmentation(self, name: str) -> None:
        pass

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        result = self.done.get(name)
        if result is None:
            await asyncio.sleep(min(timeout, 0.05))
        return result

    async def close(self) -> None:
        pass


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    write_dataset(ws.datasets_dir / "roots", count=N_IMAGES, seed=5, height=SIZE, width=SIZE)
    ws.create_project("demo", "roots", seed=2).close()
    return ws


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 8.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


def test_histogram_bars_count_scores_in_bins() -> None:
    bars, top = histogram_bars([0.01, 0.02, 0.03, 0.38], bins=4)
    assert top == pytest.approx(0.4)
    assert bars == "█  ▃"  # three low scores, one high


async def test_the_order_key_scores_images_and_serves_the_most_uncertain(
    workspace: Workspace,
) -> None:
    backend = ScoringBackend()
    app = RptuiApp(
        workspace,
        project=workspace.open_project("demo"),
        backend_factory=lambda _: backend,
        animate=False,
    )
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        session = screen.session
        histogram = screen.query_one(ScoreHistogram)
        status = screen.query_one(StatusLine)
        await wait_for(pilot, lambda: "uncertainty" in str(status.render()))
        assert session.order == "sequential" and histogram.display
        await pilot.press("v")
        assert session.order == "uncertain"
        assert "most uncertain next" in str(status.render())
        # the other images are scored in the background and show in the histogram
        await wait_for(pilot, lambda: len(session.scores) == N_IMAGES)
        await wait_for(pilot, lambda: f"{N_IMAGES} images" in str(histogram.render()))
        assert str(histogram.render()).startswith("scores 0 ")
        scored = {session.project.stem(i): i for i in range(N_IMAGES) if i != session.index}
        best = max(scored, key=backend.score)
        await pilot.press("n")
        assert session.stem == best
        await wait_for(
            pilot, lambda: f"uncertainty {backend.score(best):.2f}" in str(status.render())
        )
        assert session.project.config.settings["order"] == "uncertain"
