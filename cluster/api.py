"""The seam between the user's side (``rptui``) and the compute side (``cluster``).

Everything that crosses the line is plain data: the frozen dataclasses below, holding
numpy arrays and numbers. The app codes against :class:`Backend`; the Ray actors are
the production implementation and :mod:`cluster.backends.local` runs the same engine in the
calling process (tests, debugging, single-process use).

Label images use one encoding everywhere: ``UNLABELLED`` (0) for pixels the user did
not paint, and ``class index + 1`` for painted ones, so a binary project has
``BACKGROUND`` (1) and ``FOREGROUND`` (2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, Protocol, runtime_checkable

import numpy as np

UNLABELLED = 0
BACKGROUND = 1
FOREGROUND = 2
# A binary model calls a pixel foreground above this probability unless the model records
# its own threshold (cluster.io.model_metadata.model_threshold).
THRESHOLD = 0.5

Split = Literal["train", "val"]
STARTING_VERSION = 1  # the model training starts from; each one kept counts up


class TrainerState(str, Enum):
    """What the trainer is doing."""

    IDLE = "idle"  # started, waiting for enough annotations (one per split)
    TRAINING = "training"
    STOPPED = "stopped"  # stopped by the user, or never started
    FINISHED = "finished"  # early stopping: patience used up with no improvement
    FAILED = "failed"  # an error ended training; ``last_error`` says which


@dataclass(frozen=True)
class AnnotatedImage:
    """One image with the user's labels, as the trainer needs it.

    ``image`` is HxWx3 uint8 RGB; ``labels`` is HxW uint8 in the encoding above.
    ``shown`` is the segmentation the user painted over and accepted (HxW uint8 class
    indices, 0 background), or None: a corrected validation image is also scored against
    it where nothing was painted (``cluster.training.accepted``).
    """

    name: str
    image: np.ndarray
    labels: np.ndarray
    split: Split
    shown: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"{self.name}: image must be HxWx3 uint8, got {self.image.shape}")
        if self.labels.shape != self.image.shape[:2]:
            raise ValueError(
                f"{self.name}: labels {self.labels.shape} do not match image {self.image.shape[:2]}"
            )
        if self.shown is not None and self.shown.shape != self.labels.shape:
            raise ValueError(
                f"{self.name}: the shown mask {self.shown.shape} does not match the labels "
                f"{self.labels.shape}"
            )
        if self.split not in ("train", "val"):
            raise ValueError(f"{self.name}: split must be 'train' or 'val', got {self.split!r}")


@dataclass(frozen=True)
class TrainingConfig:
    """How to train. ``None`` fields are chosen from the device (see cluster.nn.devices)."""

    classes: tuple[str, ...] = ("background", "foreground")
    tile_size: int | None = None  # network input size; a valid size (cluster.nn.model)
    batch_size: int | None = None
    epoch_tiles: int | None = None  # fixed epoch length; None: docs/method.md's rule
    target_epoch_seconds: float = 30.0  # the timing rule on slow devices
    patience: int = 60  # epochs without improvement before training finishes
    optimizer: Literal["sgd", "adam"] | None = None  # None: chosen for the device
    learning_rate: float | None = None  # None: the optimiser's (0.01 SGD, 0.001 Adam)
    momentum: float | None = None  # SGD only; None: chosen for the device (epoch_plan)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    seed: int | None = None
    # decay of the averaged weights that are validated and kept; 0: off; None: chosen for
    # the device (cluster.training.average)
    weight_average: float | None = None
    foreground_tiles: float = 0.0  # share of tiles placed on a painted object pixel; 0: off
    # share of a corrected training image's cells also taught as the background the user
    # accepted there (cluster.training.accepted.training_labels); 0: off
    accepted_background: float = 0.0


@dataclass(frozen=True)
class ModelSnapshot:
    """Model weights with what is known about them.

    ``version`` counts up from 1 (the starting model) as RootPainter's ``NNNNNN``
    file names do. ``state_dict`` maps parameter names to numpy arrays.
    """

    version: int
    state_dict: dict[str, np.ndarray]
    created: float
    f1: float | None = None
    parent: str | None = None
    classes: tuple[str, ...] = ("background", "foreground")
    tile_size: int = 572
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EpochRecord:
    """One line of the training log."""

    epoch: int
    time: float  # unix time at the end of the epoch
    train_loss: float
    tp: int
    fp: int
    tn: int
    fn: int
    precision: float
    recall: float
    f1: float
    duration: float  # seconds
    tiles: int
    tile_size: int
    batch_size: int
    improved: bool
    class_f1: tuple[float, ...] = ()  # F1 per foreground class, in the project's order


@dataclass(frozen=True)
class TrainerStatus:
    """A snapshot of the trainer, cheap to ask for."""

    state: TrainerState
    epoch: int = 0
    best_f1: float | None = None
    epochs_since_best: int = 0
    n_train: int = 0
    n_val: int = 0
    model_version: int = 0
    last_error: str | None = None
    device: str = "cpu"
    saved_f1: float | None = None  # the best model's F1 when it was kept (or loaded)


def describe_model(
    version: int, f1: float | None, saved_f1: float | None = None, *, digits: int = 3
) -> str:
    """``model #5 F1 0.855 (0.908 when saved)``: a model and its validation F1.

    ``f1`` is its F1 on today's validation set; a model is scored again when the
    validation set changes, so ``saved_f1`` (what it scored when kept) is shown beside
    it when the two differ. A starting model that recorded no F1 (random weights, or a
    model from elsewhere) is ``model #1 (start)`` until training keeps a better one.
    """
    if version <= 0:
        return "no model yet"
    if saved_f1 is None and version == STARTING_VERSION:
        return f"model #{version} (start)"
    if f1 is None:
        return f"model #{version} F1 –"
    text = f"model #{version} F1 {f1:.{digits}f}"
    if saved_f1 is not None and f"{saved_f1:.{digits}f}" != f"{f1:.{digits}f}":
        text += f" ({saved_f1:.{digits}f} when saved)"
    return text


@dataclass(frozen=True)
class SegmentationRequest:
    """Ask for an image to be segmented; a lower ``priority`` number goes first."""

    name: str
    image: np.ndarray
    priority: int = 0


@dataclass(frozen=True)
class Segmentation:
    """The result of segmenting one image, tagged with the model that made it.

    ``probability`` is the HxW foreground probability (float16 to stay small); for a
    multi-class model, the probability of "not background" (1 - p(background)).
    ``mask`` is HxW uint8: 0 background and 1 foreground for binary, the most probable
    class index 0..K-1 for K classes.
    ``uncertainty`` is the model's uncertainty score (:mod:`cluster.inference.uncertainty`), None
    when the segmenter did not compute one.
    """

    name: str
    mask: np.ndarray
    probability: np.ndarray
    model_version: int
    seconds: float = 0.0
    uncertainty: float | None = None


@runtime_checkable
class Backend(Protocol):
    """What the app calls. Every method is awaited; none may block the event loop."""

    async def add_annotation(self, item: AnnotatedImage) -> None:
        """Add or replace (by name) an annotation; it reaches the sampler at once."""

    async def remove_annotation(self, name: str) -> None:
        """Forget an annotation."""

    async def start_training(
        self, config: TrainingConfig, start_model: ModelSnapshot | None = None
    ) -> None:
        """Start (or resume) training; a running trainer keeps its model."""

    async def stop_training(self) -> None:
        """Stop after the current batch; the best model is kept."""

    async def status(self) -> TrainerStatus:
        """Where training stands."""

    async def newest_model(self, newer_than: int = 0) -> ModelSnapshot | None:
        """The best model so far if its version is above ``newer_than``."""

    async def epoch_log(self, since_epoch: int = 0) -> list[EpochRecord]:
        """Epoch records with ``epoch > since_epoch``."""

    async def request_segmentation(self, request: SegmentationRequest) -> None:
        """Queue an image; a repeated name updates its priority instead of queuing twice."""

    async def cancel_segmentation(self, name: str) -> None:
        """Drop a queued request the user has moved away from."""

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        """The newest result for ``name``, waiting up to ``timeout`` seconds for it."""

    async def close(self) -> None:
        """Release what this client holds (the Ray implementation leaves actors running)."""


WORKER_RESOURCE_ENV = "RPTUI_WORKER_RESOURCE"
PLACEMENT_SHARE = 0.01  # of the node's custom resource, per actor: room for 100 actors


@dataclass(frozen=True)
class Placement:
    """Where the trainer, the segmenter and the batch workers run.

    ``resource`` names a custom Ray resource (``ray start --resources '{"gpu_box": 1}'``):
    every actor then asks for a small share of it, so Ray places them only on nodes that
    declare it. ``None`` lets Ray place them anywhere. The default comes from
    ``RPTUI_WORKER_RESOURCE``.
    """

    resource: str | None = None

    def __post_init__(self) -> None:
        name = self.resource
        if name is not None and (
            not name or not name.isprintable() or any(c.isspace() for c in name)
        ):
            raise ValueError(f"not a Ray resource name: {name!r}")
        if name in ("CPU", "GPU", "memory", "object_store_memory"):
            raise ValueError(f"{name} is a built-in Ray resource; name a custom one")

    @classmethod
    def from_environment(cls) -> Placement:
        """The placement named by ``RPTUI_WORKER_RESOURCE`` (none when unset or empty)."""
        return cls(os.environ.get(WORKER_RESOURCE_ENV) or None)

    def actor_resources(self) -> dict[str, float]:
        """The custom resources each actor asks for (``ray.remote(resources=...)``)."""
        return {self.resource: PLACEMENT_SHARE} if self.resource else {}
