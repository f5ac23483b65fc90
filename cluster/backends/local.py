"""The in-process implementation of the seam: the trainer and segmenter actors without Ray.

The same :class:`~cluster.backends.trainer_actor.TrainerActor` and
:class:`~cluster.backends.segmenter_actor.SegmenterActor` that
:mod:`cluster.backends.ray_backend` runs as Ray actors are plain objects here: their
threads train and segment in this process, and the segmenter takes newer models from the
trainer by a function call instead of a Ray call. So this backend and the Ray one differ
only in transport. Every method is a coroutine that hands blocking work to a thread, so
an event loop never waits on torch. Used by the app's tests, by debugging, and wherever
no Ray is wanted (``--in-process``).
"""

from __future__ import annotations

import asyncio

from cluster.api import (
    AnnotatedImage,
    EpochRecord,
    ModelSnapshot,
    Segmentation,
    SegmentationRequest,
    TrainerStatus,
    TrainingConfig,
)
from cluster.backends.segmenter_actor import SegmenterActor
from cluster.backends.trainer_actor import TrainerActor
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model

MODEL_POLL_S = 0.5  # how often the segmenter asks the trainer for a newer model (cheap here)


def _no_activity() -> None:
    """Nothing to keep up: no Ray head runs for this backend."""


class LocalBackend:
    """The trainer and segmenter actors in this process, behind the :class:`Backend` seam.

    Args:
        start_model: the model to segment with and to train from (random weights as
            model 1 when there is none: images can be segmented before any training).
        device: the torch device for both actors (chosen from what is there by default).
        segment_tile_size: the segmenter's tile side (chosen from the model by default).
        tta: the segmenter's flipped second pass.
    """

    def __init__(
        self,
        *,
        start_model: ModelSnapshot | None = None,
        device: str | None = None,
        segment_tile_size: int | None = None,
        tta: bool = True,
    ) -> None:
        self._random_start: ModelSnapshot | None = None
        self.trainer = TrainerActor(device=device, start_model=start_model, activity=_no_activity)
        self.segmenter = SegmenterActor(
            self._newest_model,
            tile_size=segment_tile_size,
            tta=tta,
            device=device,
            model_poll_s=MODEL_POLL_S,
        )

    def _newest_model(self, newer_than: int) -> ModelSnapshot | None:
        """The trainer's best model above ``newer_than``; random weights as model 1 while
        the trainer holds none and the segmenter has nothing."""
        snapshot = self.trainer.newest_model(newer_than)
        if snapshot is None and newer_than == 0:
            if self._random_start is None:
                self._random_start = snapshot_from_model(UNetGNRes(), version=1)
            snapshot = self._random_start
        return snapshot

    # -- annotations -------------------------------------------------------------------
    async def add_annotation(self, item: AnnotatedImage) -> None:
        await asyncio.to_thread(self.trainer.add_annotation, item)

    async def remove_annotation(self, name: str) -> None:
        await asyncio.to_thread(self.trainer.remove_annotation, name)

    # -- training ------------------------------------------------------------------------
    async def start_training(
        self, config: TrainingConfig, start_model: ModelSnapshot | None = None
    ) -> None:
        await asyncio.to_thread(self.trainer.start_training, config, start_model)

    async def stop_training(self) -> None:
        await asyncio.to_thread(self.trainer.stop_training)

    async def status(self) -> TrainerStatus:
        _, status = self.trainer.status()
        return status

    async def newest_model(self, newer_than: int = 0) -> ModelSnapshot | None:
        return self.trainer.newest_model(newer_than)

    async def epoch_log(self, since_epoch: int = 0) -> list[EpochRecord]:
        return self.trainer.epoch_log(since_epoch)

    # -- segmentation --------------------------------------------------------------------
    async def request_segmentation(self, request: SegmentationRequest) -> None:
        self.segmenter.request(request)

    async def cancel_segmentation(self, name: str) -> None:
        self.segmenter.cancel(name)

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        return await asyncio.to_thread(self.segmenter.result, name, timeout)

    async def close(self) -> None:
        self.segmenter.close()
        await self.stop_training()
