"""The training engine: pure torch, step-wise, safe to feed annotations while it runs.

One :class:`TrainingEngine` trains one project's model epoch by epoch (docs/method.md:
the optimiser of :mod:`cluster.training.optimiser_choice`, validation F1 on labelled
pixels after every epoch, a new model version only when F1 improves, patience 60; a
binary model is saved with the threshold of :mod:`cluster.training.thresholds`). It
holds no files: the caller saves :meth:`TrainingEngine.best_snapshot` (see
:mod:`cluster.io.model_files`) and the epoch records. A project of K classes trains one
softmax over K outputs; its F1 is the mean of the foreground classes' F1
(:mod:`cluster.training.validate`). Another thread may call ``set_annotation`` /
``remove_annotation`` at any time; a new annotation is used from the next tile on.

:func:`cluster.training.loop.train_until` runs epochs until the engine finishes.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from cluster.api import (
    AnnotatedImage,
    EpochRecord,
    ModelSnapshot,
    TrainerState,
    TrainerStatus,
    TrainingConfig,
)
from cluster.inference.options import Cancelled
from cluster.io.model_metadata import parent_name, training_metadata
from cluster.nn.devices import (
    DeviceInfo,
    pick_device,
    prepare_model,
    resolve_precision,
    set_cpu_threads,
)
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import model_from_snapshot, output_channels, snapshot_from_model
from cluster.training.annotation_store import AnnotationStore
from cluster.training.average import WeightAverage, average_decay
from cluster.training.confusion import Confusion, mean_f1
from cluster.training.epoch_plan import epoch_complete, epoch_length, plan_sizes
from cluster.training.epoch_record import epoch_record, log_epoch
from cluster.training.optimise import Stepper
from cluster.training.optimiser_choice import is_slow_device, optimiser_choice
from cluster.training.sampler import NoAnnotations
from cluster.training.thresholds import chosen_threshold
from cluster.training.validate import validate_classes

log = logging.getLogger(__name__)

SPEED_SMOOTHING = 0.5  # weight of the newest epoch in the seconds-per-tile estimate


class TrainingEngine:
    """Trains a U-Net on corrective annotations, one epoch per :meth:`run_epoch` call."""

    def __init__(
        self,
        config: TrainingConfig,
        *,
        start: ModelSnapshot | None = None,
        device: DeviceInfo | None = None,
        threads: int | None = None,
    ) -> None:
        if len(config.classes) < 2:
            raise ValueError("a project needs at least two classes (background first)")
        if start is not None and len(start.classes) != len(config.classes):
            raise ValueError(
                f"the start model segments {len(start.classes)} classes "
                f"({', '.join(start.classes)}), the project has {len(config.classes)}"
            )
        self.config = config
        self.device = device or pick_device()
        self.threads = set_cpu_threads(threads) if self.device.kind == "cpu" else None
        self._slow = is_slow_device(self.device)
        self.dtype = resolve_precision(self.device, config.precision)
        self._rng = np.random.default_rng(config.seed)
        with torch.random.fork_rng(devices=[]):
            if config.seed is not None:
                torch.manual_seed(config.seed)
            network = (
                model_from_snapshot(start)
                if start is not None
                else UNetGNRes(out_channels=output_channels(config.classes))
            )
        self._model = prepare_model(network, self.device)
        self.optimiser = optimiser_choice(config, self.device)
        self._stepper = Stepper(self._model, self.device, self.optimiser, dtype=self.dtype)
        decay = average_decay(config, self.device)
        self._average = WeightAverage(self._model, decay) if decay else None
        self.tile_size, self.batch_size, self._seconds_per_tile = plan_sizes(
            self._model, self.device, config, dtype=self.dtype
        )
        self._annotations = AnnotationStore(
            self.tile_size,
            foreground_share=config.foreground_tiles,
            accepted_background=config.accepted_background,
        )
        self._lock = threading.Lock()
        self._best = (
            (start if start.classes == config.classes else _renamed(start, config.classes))
            if start is not None
            else snapshot_from_model(
                self._model, version=1, classes=config.classes, tile_size=self.tile_size
            )
        )
        self.saved_f1 = self._best.f1  # the best's F1 when kept; best_f1 may be rescored
        self.epoch = 0
        self.epochs_since_best = 0
        self._rescore_best = False  # the validation set changed since the best F1
        self.last_annotation: str | None = None  # the newest annotation set, by name
        self._released = False  # weights parked in host memory while not training
        self.epoch_log: list[EpochRecord] = []

    # -- annotations ---------------------------------------------------------------------
    def set_annotation(self, item: AnnotatedImage) -> None:
        """Add or replace an annotation by name; a new or changed one resets the patience.

        When the validation set changes, the best model's F1 (measured on the old set) is
        measured again before the next comparison.
        """
        highest = int(item.labels.max(initial=0))
        if highest > len(self.config.classes):
            raise ValueError(
                f"{item.name}: label {highest} is beyond the project's "
                f"{len(self.config.classes)} classes"
            )
        if item.shown is not None and int(item.shown.max(initial=0)) >= len(self.config.classes):
            raise ValueError(f"{item.name}: the shown mask holds a class beyond the project's")
        was_val = self._annotations.is_validation(item.name)
        if self._annotations.set(item):
            self.last_annotation = item.name
            with self._lock:
                self.epochs_since_best = 0
                self._rescore_best = self._rescore_best or was_val or item.split == "val"

    def remove_annotation(self, name: str) -> None:
        """Forget an annotation (no error when it is not held)."""
        was_val = self._annotations.is_validation(name)
        self._annotations.remove(name)
        if was_val:
            with self._lock:
                self._rescore_best = True

    @property
    def n_train(self) -> int:
        """Training annotations with at least one labelled pixel."""
        return self._annotations.n_train

    @property
    def n_val(self) -> int:
        return self._annotations.n_val

    @property
    def ready(self) -> bool:
        """True with at least one training and one validation annotation."""
        return self.n_train >= 1 and self.n_val >= 1

    @property
    def best_f1(self) -> float | None:
        """Validation F1 of the best model, as measured when it was kept."""
        return self._best.f1

    @property
    def finished(self) -> bool:
        """True once ``patience`` epochs in a row brought no improvement."""
        return self.epochs_since_best >= self.config.patience

    def best_snapshot(self) -> ModelSnapshot:
        """The best model so far (version 1 is the starting model)."""
        return self._best

    def status(self, state: TrainerState) -> TrainerStatus:
        """Where training stands, for a trainer in ``state``."""
        return TrainerStatus(
            state=state,
            epoch=self.epoch,
            best_f1=self.best_f1,
            epochs_since_best=self.epochs_since_best,
            n_train=self.n_train,
            n_val=self.n_val,
            model_version=self._best.version,
            device=self.device.describe(),
            saved_f1=self.saved_f1,
        )

    # -- training ------------------------------------------------------------------------
    def planned_tiles(self) -> int:
        """Tiles the next epoch is expected to train on (from the measured speed)."""
        return epoch_length(
            self.n_train,
            seconds_per_tile=self._seconds_per_tile if self._slow else None,
            target_epoch_seconds=self.config.target_epoch_seconds,
            fixed=self.config.epoch_tiles,
        )

    def _epoch_complete(self, tiles: int, elapsed: float) -> bool:
        return epoch_complete(
            tiles,
            elapsed,
            n_train=self.n_train,
            slow=self._slow,
            target_epoch_seconds=self.config.target_epoch_seconds,
            fixed=self.config.epoch_tiles,
        )

    @property
    def _kept_model(self) -> torch.nn.Module:
        """The weights validated and kept: their running average where one is kept."""
        return self._average.model if self._average is not None else self._model

    def _validate(
        self,
        model: torch.nn.Module,
        should_stop: Callable[[], bool],
        by_threshold: dict[float, Confusion] | None = None,
    ) -> tuple[Confusion, ...]:
        return validate_classes(
            model,
            self._annotations.validation_items(),
            tile_size=self.tile_size,
            batch_size=self.batch_size,
            device=self.device,
            dtype=self.dtype,
            should_stop=should_stop,
            by_threshold=by_threshold,
        )

    def _score_start_model(self, should_stop: Callable[[], bool]) -> None:
        """Score the best model on the validation set now held, so an epoch must beat it."""
        with self._lock:
            self._rescore_best = False
        best = prepare_model(model_from_snapshot(self._best), self.device)
        f1 = mean_f1(_per_class(self._validate(best, should_stop)))
        self._best = dataclasses.replace(self._best, f1=f1)
        log.info("best model (version %d) on the validation set: F1 %.4f", self._best.version, f1)

    def run_epoch(self, *, should_stop: Callable[[], bool] = lambda: False) -> EpochRecord | None:
        """Train one epoch, then validate; None when stopped early or not ``ready``."""
        if not self.ready:
            return None
        if self._released:
            self._stepper.move_to(self.device.device)
            if self._average is not None:
                self._average.to(self.device.device)
            self._released = False
        try:
            if self._best.f1 is None or self._rescore_best:
                self._score_start_model(should_stop)
            started = time.perf_counter()
            self._model.train()
            tiles, losses = 0, []
            while not self._epoch_complete(tiles, time.perf_counter() - started):
                if should_stop():
                    return None
                inputs, labels = self._annotations.sampler.sample_batch(self._rng, self.batch_size)
                loss = self._stepper.step(inputs, labels)
                if loss is not None:
                    losses.append(loss)
                    if self._average is not None:
                        self._average.update(self._model)
                tiles += self.batch_size
            train_seconds = time.perf_counter() - started
            swept: dict[float, Confusion] = {}
            counts = _per_class(self._validate(self._kept_model, should_stop, swept))
        except (Cancelled, NoAnnotations):  # stopped, or the training set was emptied
            return None
        threshold = chosen_threshold(swept) if swept else None
        return self._finish_epoch(counts, losses, tiles, train_seconds, started, threshold)

    def _finish_epoch(
        self,
        per_class: tuple[Confusion, ...],
        losses: list[float],
        tiles: int,
        train_seconds: float,
        started: float,
        threshold: float | None = None,
    ) -> EpochRecord:
        measured = train_seconds / max(tiles, 1)
        previous = self._seconds_per_tile or measured
        self._seconds_per_tile = SPEED_SMOOTHING * measured + (1 - SPEED_SMOOTHING) * previous
        self.epoch += 1
        f1 = mean_f1(per_class)
        best = self._best.f1
        improved = best is None or f1 > best
        if improved:
            self._best = snapshot_from_model(
                self._kept_model,
                version=self._best.version + 1,
                f1=f1,
                parent=parent_name(self._best),
                classes=self.config.classes,
                tile_size=self.tile_size,
                metadata=self._provenance(threshold),
            )
            self.saved_f1 = f1
            with self._lock:
                self.epochs_since_best = 0
        else:
            with self._lock:
                self.epochs_since_best += 1
        record = epoch_record(
            epoch=self.epoch,
            per_class=per_class,
            f1=f1,
            losses=losses,
            tiles=tiles,
            tile_size=self.tile_size,
            batch_size=self.batch_size,
            improved=improved,
            started=started,
        )
        self.epoch_log.append(record)
        log_epoch(record, best_f1=self._best.f1)
        if improved and threshold is not None:
            log.info("model %d keeps foreground threshold %.2f", self._best.version, threshold)
        return record

    def _provenance(self, threshold: float | None) -> dict[str, str]:
        """What a model kept now records: the annotations seen, the settings and the
        foreground threshold validation chose (binary models)."""
        return training_metadata(
            epoch=self.epoch,
            n_train=self.n_train,
            n_val=self.n_val,
            last_annotation=self.last_annotation,
            tile_size=self.tile_size,
            batch_size=self.batch_size,
            optimiser=self.optimiser.name,
            learning_rate=self.optimiser.learning_rate,
            momentum=self.optimiser.momentum,
            weight_average=self._average.decay if self._average is not None else 0.0,
            threshold=threshold,
        )

    def release_device(self) -> None:
        """Free the accelerator while not training: weights and momentum move to host
        memory (the next epoch moves them back). Nothing to do on a CPU."""
        if self.device.kind == "cpu" or self._released:
            return
        self._stepper.move_to(torch.device("cpu"))
        if self._average is not None:
            self._average.to(torch.device("cpu"))
        self._released = True
        if self.device.kind == "cuda":
            torch.cuda.empty_cache()


def _renamed(snapshot: ModelSnapshot, classes: tuple[str, ...]) -> ModelSnapshot:
    """A start model under the project's class names (same count, e.g. RootPainter's)."""
    log.info("start model classes %s taken as %s", snapshot.classes, classes)
    return dataclasses.replace(snapshot, classes=classes)


def _per_class(counts: Confusion | tuple[Confusion, ...]) -> tuple[Confusion, ...]:
    """Validation counts as a tuple per foreground class (one Confusion: a binary model)."""
    return (counts,) if isinstance(counts, Confusion) else tuple(counts)
