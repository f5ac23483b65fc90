"""In-process stand-ins for a backend, and the demo app the app's pilot tests drive."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.widgets.status_line import StatusLine

POLL_S = 0.05
STUB_VERSION = 7  # the model version of StubBackend's masks
DEMO_SIZE = 64  # the side of the demo workspace's images (``demo_workspace`` fixture)
DEMO_IMAGES = 4


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Let the app run until ``condition()`` holds; AssertionError after ``seconds``."""
    for _ in range(int(seconds / POLL_S)):
        if condition():
            return
        await pilot.pause(POLL_S)
    raise AssertionError("condition not met in time")


def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend link polls every 0.1 s and tries to get back 0.1 s after losing a backend."""
    import rptui.session.link.backend_link as backend_link
    import rptui.session.link.reconnect as reconnect

    monkeypatch.setattr(backend_link, "SYNC_INTERVAL_S", 0.1)
    monkeypatch.setattr(reconnect, "RECONNECT_DELAYS_S", (0.1,))


class StubBackend:
    """A backend that records calls; segments with a fixed mask when ``mask`` is set."""

    def __init__(self, mask: np.ndarray | None = None) -> None:
        self.mask = mask
        self.added: list[AnnotatedImage] = []
        self.requests: list[SegmentationRequest] = []
        self.cancelled: list[str] = []
        self.state = TrainerState.STOPPED
        self.started_with: ModelSnapshot | None = None
        self.epoch = 5
        self.model_version = 0  # reported by status()

    async def add_annotation(self, item: AnnotatedImage) -> None:
        self.added.append(item)

    async def remove_annotation(self, name: str) -> None:
        pass

    async def start_training(
        self, config: TrainingConfig, start_model: ModelSnapshot | None = None
    ) -> None:
        self.state = TrainerState.TRAINING
        self.started_with = start_model

    async def stop_training(self) -> None:
        self.state = TrainerState.STOPPED

    async def status(self) -> TrainerStatus:
        return TrainerStatus(
            self.state,
            epoch=self.epoch,
            best_f1=0.5,
            epochs_since_best=1,
            model_version=self.model_version,
        )

    async def newest_model(self, newer_than: int = 0) -> ModelSnapshot | None:
        return None

    async def epoch_log(self, since_epoch: int = 0) -> list:
        return []

    async def request_segmentation(self, request: SegmentationRequest) -> None:
        self.requests.append(request)

    async def cancel_segmentation(self, name: str) -> None:
        self.cancelled.append(name)

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        if self.mask is None:
            await asyncio.sleep(min(timeout, POLL_S))
            return None
        return Segmentation(name, self.mask, self.mask.astype(np.float16), STUB_VERSION)

    async def close(self) -> None:
        pass


class LosesHead:
    """Put before a backend class: its status calls fail once ``gone`` is set, as when
    the Ray head goes away."""

    gone = False

    async def status(self) -> TrainerStatus:
        if self.gone:
            raise ConnectionError("the head stopped")
        return await super().status()  # type: ignore[misc]


def stub_score(name: str) -> float:
    """ScoringBackend's uncertainty of an image: grows with its name, in 0.1..0.7."""
    return 0.1 + 0.1 * (sum(map(ord, name)) % 7)


class ScoringBackend(StubBackend):
    """Segments every requested image with model ``version`` and a score from its name.

    Results are kept per name (the newest model's wins), as the segmenters keep them;
    each one lands ``delay_s`` after its request. A mask is all foreground for an even
    model version and empty for an odd one, so the mask shown tells which model made it.
    """

    def __init__(self, *, version: int = 1, delay_s: float = 0.0) -> None:
        super().__init__()
        self.version = version
        self.delay_s = delay_s
        self.done: dict[str, Segmentation] = {}

    def make(self, name: str, shape: tuple[int, ...], version: int) -> Segmentation:
        """The result ``version`` gives for an image of ``shape``."""
        mask = np.full(shape[:2], version % 2 == 0, np.uint8)
        probability = mask.astype(np.float16)
        return Segmentation(name, mask, probability, version, uncertainty=stub_score(name))

    def keep(self, result: Segmentation) -> None:
        held = self.done.get(result.name)
        if held is None or held.model_version <= result.model_version:
            self.done[result.name] = result

    async def request_segmentation(self, request: SegmentationRequest) -> None:
        self.requests.append(request)
        result = self.make(request.name, request.image.shape, self.version)
        if self.delay_s > 0:
            asyncio.get_running_loop().call_later(self.delay_s, self.keep, result)
        else:
            self.keep(result)

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        result = self.done.get(name)
        if result is None:
            await asyncio.sleep(min(timeout, POLL_S))
        return result


def square_mask() -> np.ndarray:
    """A DEMO_SIZE mask with one 10 px square of foreground at rows and columns 10..19."""
    mask = np.zeros((DEMO_SIZE, DEMO_SIZE), np.uint8)
    mask[10:20, 10:20] = 1
    return mask


def demo_app(
    workspace: Workspace, backend: StubBackend | None = None, *, project: str | None = "demo"
) -> RptuiApp:
    """The app on ``project`` (None: the picker), on ``backend`` (offline when None)."""
    factory: Callable[[str], StubBackend] | None = (lambda _: backend) if backend else None
    opened = workspace.open_project(project) if project is not None else None
    return RptuiApp(workspace, project=opened, backend_factory=factory, animate=False)


def status_text(app: RptuiApp) -> str:
    """What the screen's status line says."""
    return str(app.screen.query_one(StatusLine).render())
