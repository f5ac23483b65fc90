"""Augmentation keeps labels exact, changes images plausibly, and is fast."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cluster.training.augment import (
    augment,
    colour_jitter,
    elastic,
    elastic_field,
    elastic_parameters,
    gaussian_noise,
    salt_and_pepper,
)

LABEL_VALUES = {0, 1, 2}


def _tile(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    labels = np.zeros((size, size), dtype=np.uint8)
    labels[size // 4 : size // 2, :] = 1
    labels[:, size // 3 : size // 3 + 5] = 2
    return image, labels


@pytest.mark.parametrize("size", [92, 252])
def test_labels_stay_exact_after_every_augmentation(size: int) -> None:
    image, labels = _tile(size)
    rng = np.random.default_rng(1)
    for _ in range(30):
        out, out_labels = augment(image, labels, rng)
        assert out.shape == (size, size, 3) and out.dtype == np.float32
        assert out_labels.shape == labels.shape and out_labels.dtype == np.uint8
        assert set(np.unique(out_labels)) <= LABEL_VALUES
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_elastic_moves_labels_with_the_image() -> None:
    """Paint the labels into the image: after warping, they still line up exactly."""
    size = 124
    labels = np.zeros((size, size), dtype=np.uint8)
    labels[40:80, 30:90] = 2
    labels[10:20, :] = 1
    image = np.repeat((labels.astype(np.float32) / 2)[..., None], 3, axis=2)
    rng = np.random.default_rng(3)
    out, out_labels = elastic(image, labels, rng)
    assert not np.array_equal(out_labels, labels)  # it did deform
    # Away from blended edges, the warped image value names the warped label.
    solid = np.abs(out[..., 0] * 2 - np.round(out[..., 0] * 2)) < 1e-4
    assert solid.mean() > 0.8
    np.testing.assert_array_equal(np.round(out[..., 0] * 2)[solid], out_labels[solid])


def test_elastic_parameters_follow_method_ranges() -> None:
    rng = np.random.default_rng(4)
    samples = np.array([elastic_parameters(rng) for _ in range(500)])
    alpha, sigma = samples[:, 0], samples[:, 1]
    assert alpha.min() >= 200 * 0.4 and alpha.max() <= 2500
    assert sigma.min() >= 15 and sigma.max() <= 60
    assert np.corrcoef(alpha, sigma)[0, 1] > 0.5  # one gamma drives both


def test_elastic_field_is_smooth() -> None:
    field = elastic_field(256, 256, np.random.default_rng(5), alpha=1000, sigma=30)
    assert field.shape == (2, 256, 256)
    steps = np.abs(np.diff(field, axis=2)).max()
    assert steps < 0.05 * np.abs(field).max() + 1e-6


def test_intensity_transforms_never_touch_labels() -> None:
    image, labels = _tile(64, seed=6)
    floats = image.astype(np.float32) / 255
    rng = np.random.default_rng(6)
    for transform in (gaussian_noise, salt_and_pepper, colour_jitter):
        out, out_labels = transform(floats, labels, rng)
        assert out_labels is labels
        assert out.shape == floats.shape and out.min() >= 0 and out.max() <= 1


def test_each_transform_and_the_flip_happen_at_their_rates() -> None:
    image, labels = _tile(64, seed=7)
    rng = np.random.default_rng(8)
    draws = 300
    flipped = unflipped = unchanged = 0
    for _ in range(draws):
        out, out_labels = augment(image, labels, rng)
        flipped += np.array_equal(out_labels, labels[:, ::-1])
        unflipped += np.array_equal(out_labels, labels)
        unchanged += np.allclose(out, image / 255, atol=1e-6)
    warped = draws - flipped - unflipped
    assert 0.7 < warped / draws < 0.9  # elastic: p = 0.8
    assert 0.3 < flipped / (flipped + unflipped) < 0.7  # flip: p = 0.5
    assert unchanged < 5  # (1 - 0.8)^4 / 2 of draws leave the tile as it was


def test_augmentation_is_a_small_part_of_a_training_step() -> None:
    """Well under a CPU training step (~0.27 s per 252 tile, ~1.5 s per 572 tile).

    Measured alone: ~10 ms per 252 tile, ~30 ms per 572 tile; the bounds leave room
    for a busy machine.
    """
    rng = np.random.default_rng(9)
    for size, budget in ((252, 0.1), (572, 0.4)):
        image, labels = _tile(size)
        augment(image, labels, rng)
        start = time.perf_counter()
        runs = 10
        for _ in range(runs):
            augment(image, labels, rng)
        per_tile = (time.perf_counter() - start) / runs
        assert per_tile < budget, f"{per_tile * 1000:.0f} ms per {size} tile"
