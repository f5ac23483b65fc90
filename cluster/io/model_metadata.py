"""What a saved model records about how it was made, in its metadata (str -> str).

The trainer writes, with every model it keeps: the epoch, the annotations it had seen
(training and validation counts, and the name of the last one it was given) and the
settings it trained with, and for a binary model the foreground threshold validation
chose (:func:`model_threshold` reads it; docs/method.md). ``parent``
(a :class:`cluster.api.ModelSnapshot` field) names the model it continued from: the
previous best's version, or the file the training started from when that is known
(:data:`SOURCE_FILE` in the start model's metadata). Files without these keys
(RootPainter's, older ones) simply lack them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

from cluster.api import THRESHOLD, ModelSnapshot

log = logging.getLogger(__name__)

EPOCH = "epoch"
ANNOTATIONS_TRAIN = "annotations_train"
ANNOTATIONS_VAL = "annotations_val"
LAST_ANNOTATION = "last_annotation"
TILE_SIZE = "tile_size"
BATCH_SIZE = "batch_size"
OPTIMISER = "optimiser"
LEARNING_RATE = "learning_rate"
MOMENTUM = "momentum"
WEIGHT_AVERAGE = "weight_average"  # the decay of the kept running average; 0.0: none
FOREGROUND_THRESHOLD = "threshold"  # binary models: foreground above this probability
# The training settings, in order.
SETTINGS = (TILE_SIZE, BATCH_SIZE, OPTIMISER, LEARNING_RATE, MOMENTUM, WEIGHT_AVERAGE)
SOURCE_FILE = "file"  # the name of the file a model was read from
COPY_OF = "copy_of"  # a model saved again under a new number: the file it copies


def training_metadata(
    *,
    epoch: int,
    n_train: int,
    n_val: int,
    last_annotation: str | None,
    tile_size: int,
    batch_size: int,
    optimiser: str,
    learning_rate: float,
    momentum: float,
    weight_average: float = 0.0,
    threshold: float | None = None,
) -> dict[str, str]:
    """The metadata of a model kept after ``epoch``: what it had seen, how it trained and
    (binary models) the foreground threshold validation chose."""
    recorded = {
        EPOCH: str(epoch),
        ANNOTATIONS_TRAIN: str(n_train),
        ANNOTATIONS_VAL: str(n_val),
        TILE_SIZE: str(tile_size),
        BATCH_SIZE: str(batch_size),
        OPTIMISER: optimiser,
        LEARNING_RATE: repr(float(learning_rate)),
        MOMENTUM: repr(float(momentum)),
        WEIGHT_AVERAGE: repr(float(weight_average)),
    }
    if last_annotation is not None:
        recorded[LAST_ANNOTATION] = last_annotation
    if threshold is not None:
        recorded[FOREGROUND_THRESHOLD] = repr(float(threshold))
    return recorded


def model_threshold(metadata: Mapping[str, str]) -> float:
    """The foreground threshold a binary model records, else the default
    (:data:`cluster.api.THRESHOLD`); a value that is not a probability strictly between
    0 and 1 is ignored with a warning, never raised on."""
    text = metadata.get(FOREGROUND_THRESHOLD)
    if text is None:
        return THRESHOLD
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        log.warning("ignoring the model's threshold %r: not a probability in (0, 1)", text)
        return THRESHOLD
    return value


def ensemble_threshold(metadata: Sequence[Mapping[str, str]]) -> float:
    """The threshold an ensemble segments with: the mean of its models' (an ensemble
    averages their probabilities; a model that records none counts as the default)."""
    return sum(map(model_threshold, metadata)) / len(metadata) if metadata else THRESHOLD


def parent_name(previous: ModelSnapshot) -> str:
    """How a new model names the one it continued from: the file ``previous`` was read
    from when known, else its version."""
    return previous.metadata.get(SOURCE_FILE) or str(previous.version)
