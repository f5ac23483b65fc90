"""Validation on what the user accepted, not only on what they painted (docs/method.md).

A corrected image's labels cover the errors the user fixed and nothing else. Everywhere
else the user saw the shown segmentation and accepted it, so a model that calls soil
root where nobody painted is wrong there too; validation on painted pixels alone cannot
see it, and keeps models that over-segment. So a validation image that was *corrected*
is also scored on a fixed sample of its unpainted pixels, against the segmentation the
user accepted.

An annotation counts as a correction when most painted pixels disagree with the shown
segmentation (the user painted its errors); clear examples painted over a segmentation
mostly agree with it (broad background sweeps where it already said background) and are
scored on their painted pixels only. The sample is whole cells of the model's output
grid (one tile's work each), a fixed share of the image, chosen by the image's name so
every candidate model is scored on the same pixels.

Training may learn from the same evidence (``TrainingConfig.accepted_background``): a
corrected *training* image also teaches background on a share of its unpainted cells
where the accepted segmentation said background (:func:`training_labels`).
"""

from __future__ import annotations

import hashlib

import numpy as np

from cluster.api import BACKGROUND, UNLABELLED

ACCEPTED_SHARE = 0.06  # of an image's cells scored against the accepted segmentation
LEAST_CELLS = 4
CORRECTION_SHARE = 0.5  # painted pixels that disagree with the shown mask, above which: a fix


def is_correction(labels: np.ndarray, shown: np.ndarray) -> bool:
    """Whether the painted pixels mostly fix errors of ``shown`` (class indices)."""
    painted = labels != UNLABELLED
    count = int(np.count_nonzero(painted))
    if count == 0:
        return False
    disagree = int(np.count_nonzero(labels[painted] != shown[painted].astype(np.int16) + 1))
    return disagree > CORRECTION_SHARE * count


def sampled_cells(
    name: str, shape: tuple[int, int], cell: int, *, share: float = ACCEPTED_SHARE
) -> np.ndarray:
    """A boolean HxW mask of ``share`` of the ``cell``-sided grid squares (at least
    LEAST_CELLS), the same for the same name and shape."""
    height, width = shape
    rows, cols = -(-height // cell), -(-width // cell)
    total = rows * cols
    count = min(total, max(LEAST_CELLS, round(share * total)))
    seed = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")
    chosen = np.random.default_rng(seed).choice(total, size=count, replace=False)
    grid = np.zeros((rows, cols), dtype=bool)
    grid.flat[chosen] = True
    return np.repeat(np.repeat(grid, cell, axis=0), cell, axis=1)[:height, :width]


def validation_labels(
    name: str, labels: np.ndarray, shown: np.ndarray | None, *, cell: int
) -> np.ndarray:
    """The labels a validation image is scored on: the painted ones, and for a
    correction also the accepted segmentation on the sampled unpainted pixels.

    Args:
        labels: HxW labels (0 unlabelled, class + 1 where painted).
        shown: HxW class indices of the segmentation the user corrected, or None.
        cell: the side of a sampled square: the model's output tile side.
    """
    if shown is None or not is_correction(labels, shown):
        return labels
    sample = sampled_cells(name, labels.shape, cell) & (labels == UNLABELLED)
    scored = labels.copy()
    scored[sample] = shown[sample] + 1
    return scored


def training_labels(
    name: str, labels: np.ndarray, shown: np.ndarray | None, *, cell: int, share: float
) -> np.ndarray:
    """The labels a training image is learnt from: the painted ones, and for a correction
    also background on ``share`` of its cells where the accepted segmentation said
    background and nobody painted (0 or no ``shown``: the painted labels alone).

    Args:
        labels: HxW labels (0 unlabelled, class + 1 where painted).
        shown: HxW class indices of the segmentation the user corrected, or None.
        cell: the side of a sampled square: the model's output tile side.
    """
    if share <= 0 or shown is None or not is_correction(labels, shown):
        return labels
    sample = sampled_cells(name, labels.shape, cell, share=share)
    taught = sample & (labels == UNLABELLED) & (shown == 0)
    return np.where(taught, np.uint8(BACKGROUND), labels).astype(labels.dtype)
