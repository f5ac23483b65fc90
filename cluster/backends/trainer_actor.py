"""The trainer actor: one project's training engine, running on a thread inside a Ray actor.

A plain class: :mod:`cluster.backends.ray_backend` wraps it with ``ray.remote`` and
:mod:`cluster.backends.local` runs it in the calling process. Every public method
returns quickly: the engine is built and trained on a background thread while calls add
annotations, ask for the status or fetch the newest model. Each instance has an
``incarnation`` id; after Ray restarts the actor it has a new one, which tells the
driver to send the annotations and newest model again (the actor keeps nothing on disk).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

import numpy as np

from cluster.api import (
    AnnotatedImage,
    EpochRecord,
    ModelSnapshot,
    TrainerState,
    TrainerStatus,
    TrainingConfig,
)
from cluster.backends.declared_gpus import warn_if_gpu_absent
from cluster.head.status import touch_activity
from cluster.head.trainer_report import publish_trainer_status
from cluster.nn.devices import DeviceInfo, pick_device
from cluster.training.engine import TrainingEngine
from cluster.training.loop import train_until

log = logging.getLogger(__name__)

TRAINER_PREFIX = "trainer:"
IDLE_POLL_S = 0.2  # how often an idle trainer looks for enough annotations
STOP_JOIN_S = 20.0  # how long stop_training waits for the current batch to end
ABSENT_GPU_SHORT = "declared GPU absent"  # beside the device in the status (details: log)


def trainer_name(project: str) -> str:
    """The Ray actor name of a project's trainer."""
    return TRAINER_PREFIX + project


def compact(item: AnnotatedImage) -> AnnotatedImage:
    """An owned, contiguous copy (arrays from the object store are read-only views)."""
    return AnnotatedImage(
        item.name,
        np.array(item.image, dtype=np.uint8, order="C"),
        np.array(item.labels, dtype=np.uint8, order="C"),
        item.split,
        None if item.shown is None else np.array(item.shown, dtype=np.uint8, order="C"),
    )


class TrainerActor:
    """Trains one project's model in the background while answering calls.

    Args:
        device: the torch device to train on (chosen from what is there by default).
        start_model: the model to start from until :meth:`start_training` gives one.
        activity: called after every epoch (by default it keeps an embedded Ray head up
            while no client is connected).
    """

    def __init__(
        self,
        *,
        device: str | None = None,
        start_model: ModelSnapshot | None = None,
        activity: Callable[[], None] = touch_activity,
    ) -> None:
        self.incarnation_id = uuid.uuid4().hex
        self._device_name = device
        self._device: DeviceInfo | None = None
        self._device_note: str | None = None  # the node's declared GPUs are absent
        self._activity = activity
        self._lock = threading.RLock()
        self._pending: dict[str, AnnotatedImage] = {}  # held until the engine exists
        self._engine: TrainingEngine | None = None
        self._start: ModelSnapshot | None = start_model
        self._log: list[EpochRecord] = []
        self._state = TrainerState.STOPPED
        self._error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        log.info("trainer up (incarnation %s)", self.incarnation_id)

    def incarnation(self) -> str:
        """Differs after every (re)start of the actor."""
        return self.incarnation_id

    # -- annotations -----------------------------------------------------------------------
    def add_annotation(self, item: AnnotatedImage) -> str:
        """Add or replace an annotation; in the sampler when this returns (if training)."""
        item = compact(item)
        with self._lock:
            if self._engine is not None:
                self._engine.set_annotation(item)
            else:
                self._pending[item.name] = item
        return self.incarnation_id

    def add_annotations(self, *items: AnnotatedImage) -> str:
        """Add several annotations in one call (used to feed a restarted trainer)."""
        for item in items:
            self.add_annotation(item)
        return self.incarnation_id

    def remove_annotation(self, name: str) -> str:
        with self._lock:
            self._pending.pop(name, None)
            if self._engine is not None:
                self._engine.remove_annotation(name)
        return self.incarnation_id

    # -- training ----------------------------------------------------------------------------
    def start_training(
        self,
        config: TrainingConfig,
        start_model: ModelSnapshot | None = None,
        first_epoch: int = 0,
    ) -> str:
        """Start (or resume) training; a trainer that has a model keeps it.

        ``first_epoch`` continues the epoch count of an earlier incarnation.
        """
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self.incarnation_id
            if self._engine is None and start_model is not None:
                self._start = start_model
            self._stop.clear()
            self._error = None
            self._state = TrainerState.IDLE
            self._thread = threading.Thread(
                target=self._train, args=(config, first_epoch), name="trainer", daemon=True
            )
            self._thread.start()
        self._publish()
        return self.incarnation_id

    def _build_engine(self, config: TrainingConfig, first_epoch: int) -> TrainingEngine:
        with self._lock:
            if self._engine is not None:
                return self._engine
            if self._device is None:
                self._device = pick_device(self._device_name)
                self._device_note = warn_if_gpu_absent(self._device, "trainer")
            start = self._start
        engine = TrainingEngine(config, start=start, device=self._device)
        engine.epoch = first_epoch
        with self._lock:
            for item in self._pending.values():
                engine.set_annotation(item)
            self._pending.clear()
            self._engine = engine
        log.info("engine ready: tile %d, batch %d", engine.tile_size, engine.batch_size)
        return engine

    def _train(self, config: TrainingConfig, first_epoch: int) -> None:
        try:
            engine = self._build_engine(config, first_epoch)
            self._state = train_until(
                engine,
                should_stop=self._stop.is_set,
                on_epoch=self._epoch_done,
                on_state=self._set_state,
                idle_wait=IDLE_POLL_S,
            )
        except Exception as error:  # reported through status(), never lost in a thread
            log.exception("training failed")
            self._error = f"{type(error).__name__}: {error}"
            self._state = TrainerState.FAILED
        finally:
            self._release_device()
            self._publish()

    def _set_state(self, state: TrainerState) -> None:
        changed = state != self._state
        self._state = state
        if changed:
            self._publish()

    def _publish(self) -> None:
        """Let ``rptui status`` see what this trainer does (never fails training)."""
        try:
            publish_trainer_status(self.status()[1])
        except Exception as error:  # the head's store is a courtesy, not a dependency
            log.info("trainer status not published: %s", error)

    def _epoch_done(self, record: EpochRecord) -> None:
        with self._lock:
            self._log.append(record)
        self._activity()
        self._publish()

    def _release_device(self) -> None:
        """Give the GPU back while not training (the model waits in host memory)."""
        with self._lock:
            engine = self._engine
        if engine is not None:
            engine.release_device()

    def stop_training(self) -> str:
        """Stop after the current batch (waits for it, up to a bound); the model is kept."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(STOP_JOIN_S)
        return self.incarnation_id

    # -- what it knows -----------------------------------------------------------------------
    def _counts(self) -> tuple[int, int]:
        with self._lock:
            if self._engine is not None:
                return self._engine.n_train, self._engine.n_val
            n_train = sum(item.split == "train" for item in self._pending.values())
            return n_train, len(self._pending) - n_train

    def _best(self) -> ModelSnapshot | None:
        with self._lock:
            return self._engine.best_snapshot() if self._engine is not None else self._start

    def status(self) -> tuple[str, TrainerStatus]:
        """(incarnation, status)."""
        n_train, n_val = self._counts()
        with self._lock:
            engine = self._engine
            last = self._log[-1].epoch if self._log else (engine.epoch if engine else 0)
        best = self._best()
        saved_f1 = engine.saved_f1 if engine is not None else best.f1 if best else None
        device = self._device.describe() if self._device is not None else "cpu"
        if self._device_note is not None:
            device += f" ({ABSENT_GPU_SHORT})"
        status = TrainerStatus(
            state=self._state,
            epoch=last,
            best_f1=best.f1 if best is not None else None,
            epochs_since_best=engine.epochs_since_best if engine is not None else 0,
            n_train=n_train,
            n_val=n_val,
            model_version=best.version if best is not None else 0,
            last_error=self._error,
            device=device,
            saved_f1=saved_f1,
        )
        return self.incarnation_id, status

    def newest_model(self, newer_than: int = 0) -> ModelSnapshot | None:
        """The best model if its version is above ``newer_than`` (else None, cheaply)."""
        best = self._best()
        return best if best is not None and best.version > newer_than else None

    def newest_version(self) -> int:
        best = self._best()
        return best.version if best is not None else 0

    def epoch_log(self, since_epoch: int = 0) -> list[EpochRecord]:
        with self._lock:
            return [record for record in self._log if record.epoch > since_epoch]
