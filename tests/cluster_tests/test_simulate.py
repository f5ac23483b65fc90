"""The simulated clear-example annotator never contradicts the ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from cluster.simulate.clear_examples import clear_example_labels, correction_labels
from cluster.simulate.synthetic import generate_root_image

SEEDS = (100, 101, 102, 103)


@pytest.mark.parametrize("seed", SEEDS)
def test_strokes_never_label_against_the_ground_truth(seed: int) -> None:
    _, mask = generate_root_image(seed=seed, root_probability=1.0)
    labels = clear_example_labels(mask, rng=np.random.default_rng(seed), bg_margin=3.0)
    root = mask.astype(bool)
    assert set(np.unique(labels)) == {UNLABELLED, BACKGROUND, FOREGROUND}
    assert not np.any((labels == FOREGROUND) & ~root), "foreground painted on soil"
    assert not np.any((labels == BACKGROUND) & root), "background painted on a root"
    distance_to_root = ndimage.distance_transform_edt(~root)
    assert distance_to_root[labels == BACKGROUND].min() > 3.0, "background too close to a root"
    assert np.count_nonzero(labels) < 0.5 * labels.size, "a clear example is sparse"


@pytest.mark.parametrize("ratio", [5.0, 10.0])
def test_background_is_about_ratio_times_foreground(ratio: float) -> None:
    _, mask = generate_root_image(seed=105, root_probability=1.0)  # 7 % roots: room for 10x
    labels = clear_example_labels(mask, rng=np.random.default_rng(0), bg_ratio=ratio)
    fg = np.count_nonzero(labels == FOREGROUND)
    bg = np.count_nonzero(labels == BACKGROUND)
    assert fg > 50
    assert ratio * 0.9 <= bg / fg <= ratio * 1.05, "the last strokes stop near the target"


def test_foreground_follows_thin_roots_along_their_centreline() -> None:
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[20:22, 5:60] = 1  # a 2-px-wide root: no disk fits inside it
    mask[40, 5:60] = 1  # a 1-px-wide root
    labels = clear_example_labels(mask, rng=np.random.default_rng(1), coverage=1.0)
    fg = labels == FOREGROUND
    assert np.count_nonzero(fg[20:22]) >= 40 and np.count_nonzero(fg[40]) >= 40
    assert not np.any(fg & (mask == 0))


def test_the_same_generator_state_gives_the_same_strokes() -> None:
    _, mask = generate_root_image(seed=105, root_probability=1.0)
    first = clear_example_labels(mask, rng=np.random.default_rng(7))
    again = clear_example_labels(mask, rng=np.random.default_rng(7))
    other = clear_example_labels(mask, rng=np.random.default_rng(8))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_an_image_without_roots_gets_background_only() -> None:
    mask = np.zeros((128, 96), dtype=np.uint8)
    labels = clear_example_labels(mask, rng=np.random.default_rng(2), empty_bg_fraction=0.05)
    assert not np.any(labels == FOREGROUND)
    painted = np.count_nonzero(labels == BACKGROUND)
    assert 0.05 * mask.size <= painted <= 0.1 * mask.size


def test_a_correction_covers_every_error_without_spill() -> None:
    _, mask = generate_root_image(seed=106, root_probability=1.0)
    root = mask.astype(bool)
    first = clear_example_labels(mask, rng=np.random.default_rng(3))
    shown = ndimage.binary_dilation(root, iterations=2)  # roots too thick
    shown[:40, :40] = True  # a false blob
    shown &= ~(np.indices(mask.shape)[0] > 200)  # missed roots at the bottom
    corrected = correction_labels(mask, shown, first)
    errors = shown != root
    assert np.all(corrected[errors & root] == FOREGROUND)
    assert np.all(corrected[errors & ~root] == BACKGROUND)
    assert not np.any((corrected == FOREGROUND) & ~root)
    assert not np.any((corrected == BACKGROUND) & root)
    # A radius-1 brush centred next to an error reaches at most two pixels beyond it.
    unchanged = ~ndimage.binary_dilation(errors, iterations=2)
    assert np.array_equal(corrected[unchanged], first[unchanged])
    assert np.array_equal(correction_labels(mask, root, first), first), "no errors, no strokes"
