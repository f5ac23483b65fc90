"""What a saved model records about how it was made, in its metadata (str -> str).

The trainer writes, with every model it keeps: the epoch, the annotations it had seen
(training and validation counts, and the name of the last one it was given) and the
settings it trained with. ``parent`` (a :class:`cluster.api.ModelSnapshot` field) names
the model it continued from: the previous best's version, or the file the training
started from when that is known (:data:`SOURCE_FILE` in the start model's metadata).
Files without these keys (RootPainter's, older ones) simply lack them.
"""

from __future__ import annotations

from cluster.api import ModelSnapshot

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
) -> dict[str, str]:
    """The metadata of a model kept after ``epoch``: what it had seen and how it trained."""
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
    return recorded


def parent_name(previous: ModelSnapshot) -> str:
    """How a new model names the one it continued from: the file ``previous`` was read
    from when known, else its version."""
    return previous.metadata.get(SOURCE_FILE) or str(previous.version)
