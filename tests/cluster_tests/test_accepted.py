"""Validation on what the user accepted: a corrected image also scores unpainted pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED, AnnotatedImage
from cluster.nn.model import output_size
from cluster.training.accepted import (
    ACCEPTED_SHARE,
    is_correction,
    sampled_cells,
    training_labels,
    validation_labels,
)
from cluster.training.annotation_store import AnnotationStore
from cluster.training.confusion import confusion
from cluster.training.sampler import KEY_PREFIX

SIDE = 480
CELL = 52
TILE = 124


def _roots() -> np.ndarray:
    """A soil photo's truth: a few thin vertical and horizontal roots (1 = root)."""
    truth = np.zeros((SIDE, SIDE), dtype=np.uint8)
    for x in (40, 150, 300, 410):
        truth[:, x : x + 3] = 1
    truth[200:203, :] = 1
    return truth


def _missed_roots_corrected(truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A shown mask that missed two roots, and the user's corrections: those roots painted."""
    shown = truth.copy()
    shown[:, 150:153] = 0
    shown[:, 410:413] = 0
    labels = np.zeros_like(truth)
    labels[:, 150:153] = FOREGROUND
    labels[:, 410:413] = FOREGROUND
    return shown, labels


def test_a_model_calling_unpainted_soil_root_scores_lower_once_accepted_pixels_count() -> None:
    truth = _roots()
    shown, labels = _missed_roots_corrected(truth)
    right = truth.astype(bool)
    everything_root = np.ones_like(right)

    painted = confusion(everything_root, labels)
    assert painted.f1 == confusion(right, labels).f1 == 1.0  # painted pixels cannot tell

    scored = validation_labels("photo7", labels, shown, cell=CELL)
    assert confusion(right, scored).f1 == 1.0
    assert confusion(everything_root, scored).f1 < 0.5
    assert confusion(everything_root, scored).precision < 0.2


def test_the_painted_pixels_keep_their_labels_and_a_fixed_share_of_cells_is_added() -> None:
    truth = _roots()
    shown, labels = _missed_roots_corrected(truth)
    scored = validation_labels("photo7", labels, shown, cell=CELL)
    painted = labels != UNLABELLED
    assert np.array_equal(scored[painted], labels[painted])
    added = (scored != UNLABELLED) & ~painted
    assert np.array_equal(scored[added], shown[added] + 1)  # what the user accepted there
    cells = -((-SIDE // CELL) ** 2)
    sample = sampled_cells("photo7", (SIDE, SIDE), CELL)
    assert np.count_nonzero(sample) >= round(ACCEPTED_SHARE * cells) * CELL * CELL * 0.5
    assert np.array_equal(sample, sampled_cells("photo7", (SIDE, SIDE), CELL))
    assert not np.array_equal(sample, sampled_cells("photo8", (SIDE, SIDE), CELL))


def test_clear_examples_painted_over_a_mask_are_scored_on_painted_pixels_only() -> None:
    truth = _roots()
    clear = np.zeros_like(truth)
    clear[:, 40:43] = FOREGROUND
    clear[20:120, 60:140] = BACKGROUND  # broad background away from the roots
    clear[300:400, 200:290] = BACKGROUND
    nothing_shown = np.zeros_like(truth)  # a model that finds no root yet
    assert not is_correction(clear, nothing_shown)  # the broad background agrees with it
    assert np.array_equal(validation_labels("c", clear, nothing_shown, cell=CELL), clear)
    assert np.array_equal(validation_labels("c", clear, None, cell=CELL), clear)


def test_the_trainer_scores_a_corrected_validation_image_on_the_accepted_sample(
    tmp_path: Path,
) -> None:
    truth = _roots()
    shown, labels = _missed_roots_corrected(truth)
    image = np.zeros((SIDE, SIDE, 3), dtype=np.uint8)
    store = AnnotationStore(TILE, spill_dir=tmp_path)
    try:
        store.set(AnnotatedImage("photo7", image, labels, "val", shown=shown))
        (held,) = store.validation_items()
        assert np.count_nonzero(held.labels) > np.count_nonzero(labels)
        cell = output_size(TILE)
        assert cell is not None
        assert np.array_equal(held.labels, validation_labels("photo7", labels, shown, cell=cell))
        # A resend with the same pixels is no change; a different accepted mask is one.
        assert not store.set(AnnotatedImage("photo7", image, labels, "val", shown=shown))
        assert store.set(AnnotatedImage("photo7", image, labels, "val", shown=truth))
        # In training the labels stay as painted: the accepted sample only judges models.
        store.set(AnnotatedImage("photo7", image, labels, "train", shown=shown))
        assert store.validation_items() == []
    finally:
        store.close()


def test_a_corrected_training_image_can_teach_the_background_the_user_accepted() -> None:
    truth = _roots()
    shown, labels = _missed_roots_corrected(truth)
    taught = training_labels("photo7", labels, shown, cell=CELL, share=0.25)
    painted = labels != UNLABELLED
    assert np.array_equal(taught[painted], labels[painted])  # what was painted stays
    added = (taught != UNLABELLED) & ~painted
    assert added.any() and np.all(taught[added] == BACKGROUND)
    assert not (added & (shown > 0)).any()  # never where the accepted mask said root
    sample = sampled_cells("photo7", (SIDE, SIDE), CELL, share=0.25)
    assert np.array_equal(added, sample & ~painted & (shown == 0))
    # Off, or nothing accepted, or a clear example: the painted labels alone.
    assert np.array_equal(training_labels("photo7", labels, shown, cell=CELL, share=0), labels)
    assert np.array_equal(training_labels("photo7", labels, None, cell=CELL, share=0.25), labels)
    clear = np.zeros_like(truth)
    clear[:, 40:43] = FOREGROUND
    clear[20:120, 60:140] = BACKGROUND
    nothing_shown = np.zeros_like(truth)
    assert np.array_equal(training_labels("c", clear, nothing_shown, cell=CELL, share=0.25), clear)


def test_the_trainer_learns_the_accepted_background_only_when_asked(tmp_path: Path) -> None:
    truth = _roots()
    shown, labels = _missed_roots_corrected(truth)
    image = np.zeros((SIDE, SIDE, 3), dtype=np.uint8)
    cell = output_size(TILE)
    assert cell is not None
    for share in (0.0, 0.25):
        store = AnnotationStore(TILE, spill_dir=tmp_path / str(share), accepted_background=share)
        try:
            store.set(AnnotatedImage("photo7", image, labels, "train", shown=shown))
            learnt = store.pool.get(KEY_PREFIX + "photo7")[1]  # what the sampler cuts tiles from
            expected = training_labels("photo7", labels, shown, cell=cell, share=share)
            assert np.array_equal(learnt, expected)
            assert (np.count_nonzero(learnt) > np.count_nonzero(labels)) == (share > 0)
        finally:
            store.close()
