"""The in-process implementation of the seam: the engine in the calling process.

Training runs on one background thread, segmentation on another; every method is a
coroutine that hands blocking work to a thread, so an event loop never waits on torch.
Used by the app's tests, by debugging, and wherever no Ray is wanted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from functools import partial

from cluster.api import (
    AnnotatedImage,
    EpochRecord,
    ModelSnapshot,
    Segmentation,
    SegmentationRequest,
    TrainerState,
    TrainerStatus,
    TrainingConfig,
)
from cluster.backends.segment_queue import SegmentationQueue
from cluster.inference.tiled import segment_request
from cluster.nn.devices import DeviceInfo, pick_device, resolve_precision
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import model_from_snapshot, snapshot_from_model
from cluster.training.engine import TrainingEngine, train_until

log = logging.getLogger(__name__)

QUEUE_POLL_S = 0.2


class LocalBackend:
    """Trainer and segmenter threads in this process, behind the :class:`Backend` seam."""

    def __init__(
        self,
        *,
        start_model: ModelSnapshot | None = None,
        device: DeviceInfo | None = None,
        segment_tile_size: int | None = None,
        tta: bool = True,
    ) -> None:
        self._device = device or pick_device()
        self._lock = threading.RLock()
        self._annotations: dict[str, AnnotatedImage] = {}
        self._engine: TrainingEngine | None = None
        self._best = start_model
        self._log: list[EpochRecord] = []
        self._state = TrainerState.STOPPED
        self._error: str | None = None
        self._stop_training = threading.Event()
        self._train_thread: threading.Thread | None = None
        self._queue = SegmentationQueue()
        self._closed = threading.Event()
        self._segment_tile_size = segment_tile_size
        self._tta = tta
        self._segmenter_model: tuple[int, UNetGNRes, int] | None = None
        self._segment_thread = threading.Thread(
            target=self._segment_forever, name="rptui-segmenter", daemon=True
        )
        self._segment_thread.start()

    # -- annotations -------------------------------------------------------------------
    async def add_annotation(self, item: AnnotatedImage) -> None:
        with self._lock:
            self._annotations[item.name] = item
            if self._engine is not None:
                self._engine.set_annotation(item)

    async def remove_annotation(self, name: str) -> None:
        with self._lock:
            self._annotations.pop(name, None)
            if self._engine is not None:
                self._engine.remove_annotation(name)

    # -- training ------------------------------------------------------------------------
    async def start_training(
        self, config: TrainingConfig, start_model: ModelSnapshot | None = None
    ) -> None:
        await asyncio.to_thread(self._start_training, config, start_model)

    def _start_training(self, config: TrainingConfig, start_model: ModelSnapshot | None) -> None:
        with self._lock:
            if self._train_thread is not None and self._train_thread.is_alive():
                return
            self._stop_training.clear()
            self._error = None
            self._state = TrainerState.IDLE
            self._train_thread = threading.Thread(
                target=self._train_forever,
                args=(config, start_model),
                name="rptui-trainer",
                daemon=True,
            )
            self._train_thread.start()

    def _make_engine(self, config: TrainingConfig, start: ModelSnapshot | None) -> TrainingEngine:
        """The engine, built once on the training thread (choosing a CPU tile takes seconds)."""
        if self._engine is not None:
            return self._engine
        engine = TrainingEngine(config, start=start or self._best, device=self._device)
        with self._lock:
            for item in self._annotations.values():
                engine.set_annotation(item)
            self._engine = engine
            if self._best is None:
                self._best = engine.best_snapshot()
        return engine

    def _train_forever(self, config: TrainingConfig, start: ModelSnapshot | None) -> None:
        try:
            engine = self._make_engine(config, start)
            self._state = train_until(
                engine,
                should_stop=self._stop_training.is_set,
                on_epoch=partial(self._epoch_done, engine),
                on_state=self._set_state,
            )
        except Exception as error:  # reported through status(), never lost in a thread
            log.exception("training failed")
            self._error = f"{type(error).__name__}: {error}"
            self._state = TrainerState.FAILED

    def _set_state(self, state: TrainerState) -> None:
        self._state = state

    def _epoch_done(self, engine: TrainingEngine, record: EpochRecord) -> None:
        with self._lock:
            self._log.append(record)
            if record.improved:
                self._best = engine.best_snapshot()
            best = self._best
        if record.improved and best is not None:
            self._queue.requeue_stale(best.version)

    async def stop_training(self) -> None:
        self._stop_training.set()
        thread = self._train_thread
        if thread is not None:
            await asyncio.to_thread(thread.join)

    async def status(self) -> TrainerStatus:
        with self._lock:
            engine = self._engine
            n_train = sum(a.split == "train" for a in self._annotations.values())
            n_val = len(self._annotations) - n_train
            best = self._best
            last = self._log[-1] if self._log else None
        return TrainerStatus(
            state=self._state,
            epoch=last.epoch if last else 0,
            best_f1=best.f1 if best else None,
            epochs_since_best=engine.epochs_since_best if engine else 0,
            n_train=n_train,
            n_val=n_val,
            model_version=best.version if best else 0,
            last_error=self._error,
            device=self._device.describe(),
        )

    async def newest_model(self, newer_than: int = 0) -> ModelSnapshot | None:
        with self._lock:
            best = self._best
        return best if best is not None and best.version > newer_than else None

    async def epoch_log(self, since_epoch: int = 0) -> list[EpochRecord]:
        with self._lock:
            return [r for r in self._log if r.epoch > since_epoch]

    # -- segmentation --------------------------------------------------------------------
    async def request_segmentation(self, request: SegmentationRequest) -> None:
        self._queue.put(request)

    async def cancel_segmentation(self, name: str) -> None:
        self._queue.cancel(name)

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        return await asyncio.to_thread(self._queue.wait_result, name, timeout)

    def _current_model(self) -> tuple[int, UNetGNRes, int]:
        """The newest model, its version and the tile side it was trained on."""
        with self._lock:
            if self._best is None:
                self._best = snapshot_from_model(UNetGNRes(), version=1)
            best = self._best
        if self._segmenter_model is None or self._segmenter_model[0] != best.version:
            model = model_from_snapshot(best).to(self._device.device).eval()
            self._segmenter_model = (best.version, model, best.tile_size)
        return self._segmenter_model

    def _segment_forever(self) -> None:
        while not self._closed.is_set():
            request = self._queue.take(timeout=QUEUE_POLL_S)
            if request is None:
                continue
            try:
                version, model, model_tile = self._current_model()
                result = segment_request(
                    request,
                    model,
                    version=version,
                    model_tile=model_tile,
                    tile_size=self._segment_tile_size,
                    tta=self._tta,
                    device=self._device,
                    dtype=resolve_precision(self._device, "auto"),
                )
                self._queue.store(result, request.image)
            except Exception:  # one bad image must not end the segmenter
                log.exception("segmenting %s failed", request.name)

    async def close(self) -> None:
        self._closed.set()
        await self.stop_training()
        await asyncio.to_thread(self._segment_thread.join, 5)
