"""Synthetic root images: reproducible, with masks that mark exactly the roots."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from cluster.io.images import read_image, read_mask
from cluster.simulate.synthetic import (
    MIN_ROOT_CONTRAST,
    SOIL_REFERENCE_SIGMA,
    generate_root_image,
    write_dataset,
)

SEEDS = range(8)


def test_same_seed_same_image_and_different_seeds_differ() -> None:
    first_image, first_mask = generate_root_image(seed=7)
    again_image, again_mask = generate_root_image(seed=7)
    np.testing.assert_array_equal(first_image, again_image)
    np.testing.assert_array_equal(first_mask, again_mask)
    other_image, _ = generate_root_image(seed=8)
    assert np.abs(first_image.astype(int) - other_image).mean() > 5


def test_shapes_and_types() -> None:
    image, mask = generate_root_image(seed=1, height=100, width=150)
    assert image.shape == (100, 150, 3) and image.dtype == np.uint8
    assert mask.shape == (100, 150) and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 1}


def test_mask_is_exactly_the_painted_pixels() -> None:
    for seed in SEEDS:
        with_roots, mask = generate_root_image(seed=seed, root_probability=1.0, noise_sigma=0)
        soil_only, empty = generate_root_image(seed=seed, root_probability=0.0, noise_sigma=0)
        assert not empty.any()
        assert 0 < mask.mean() < 0.5
        # Off the mask nothing was painted; on it, the roots changed the soil.
        np.testing.assert_array_equal(with_roots[mask == 0], soil_only[mask == 0])
        changed = np.any(with_roots != soil_only, axis=2)
        assert changed[mask == 1].mean() > 0.9


def test_roots_stand_out_from_the_soil_beside_them() -> None:
    contrasts = []
    for seed in SEEDS:
        image, mask = generate_root_image(seed=seed, root_probability=1.0)
        grey = image.astype(float).mean(axis=2)
        ring = ndimage.binary_dilation(mask, iterations=2) & (mask == 0)
        contrasts.append(abs(grey[mask == 1].mean() - grey[ring].mean()))
    assert np.mean(contrasts) > 20
    assert np.mean(np.array(contrasts) > 10) >= 0.75  # contrast varies, some roots are faint


def test_every_root_pixel_is_visible_above_the_noise() -> None:
    """The truth marks no pixel a careful eye could not see: no faint or soil-coloured edge."""
    for seed in range(24):
        image, mask = generate_root_image(seed=seed, root_probability=1.0, noise_sigma=0)
        soil, _ = generate_root_image(seed=seed, root_probability=0.0, noise_sigma=0)
        around = ndimage.gaussian_filter(
            soil.astype(float),
            sigma=(SOIL_REFERENCE_SIGMA, SOIL_REFERENCE_SIGMA, 0),
            mode="nearest",
        )
        lift = (image.astype(float) - around).mean(axis=2)[mask == 1]
        assert np.abs(lift).min() >= MIN_ROOT_CONTRAST - 1, seed  # uint8 rounding
        noisy, _ = generate_root_image(seed=seed, root_probability=1.0)
        noise = (noisy.astype(float) - image).mean(axis=2)
        # The sensor noise (per channel std, sqrt(3) x that of the grey mean) is at most half of it.
        assert 2 * noise.std() * np.sqrt(3) <= MIN_ROOT_CONTRAST, seed


def test_some_images_have_no_roots() -> None:
    has_roots = [generate_root_image(seed=s, height=48, width=48)[1].any() for s in range(40)]
    assert 28 <= sum(has_roots) < 40  # about 90 % by default, and some without


def _widths(mask: np.ndarray) -> np.ndarray:
    """Root width at each centreline pixel: twice the distance to the background."""
    return 2 * ndimage.distance_transform_edt(mask)[skeletonize(mask.astype(bool))]


def test_root_widths_vary_from_thin_to_thick() -> None:
    thinnest, thickest = [], []
    for seed in SEEDS:
        _, mask = generate_root_image(seed=seed, root_probability=1.0)
        widths = _widths(mask)
        thinnest.append(np.percentile(widths, 10))
        thickest.append(np.percentile(widths, 90))
    assert max(thinnest) <= 3  # every image has thin laterals
    assert max(thickest) >= 7  # some have thick roots
    assert min(thickest) <= 5  # and some do not
    _, thin = generate_root_image(seed=0, root_probability=1.0, width_range=(1.0, 1.0))
    assert np.percentile(_widths(thin), 90) <= 2.5  # one-pixel roots stay about a pixel wide


def test_roots_are_connected_curves_not_specks() -> None:
    _, mask = generate_root_image(seed=3, root_probability=1.0, width_range=(1.0, 2.0))
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    assert sizes.max() > 200
    assert np.count_nonzero(sizes < 5) <= count // 2 + 1  # only clipped tips are tiny


def test_generation_is_fast() -> None:
    generate_root_image(seed=0)  # warm up imports and caches
    start = time.perf_counter()
    for seed in range(5):
        generate_root_image(seed=seed)
    per_small = (time.perf_counter() - start) / 5
    start = time.perf_counter()
    generate_root_image(seed=0, height=1024, width=1024)
    large = time.perf_counter() - start
    # Bounds leave room for a busy shared machine (measured ~0.07 s and ~0.6 s).
    assert per_small < 0.3
    assert large < 3.0


def test_write_dataset_round_trips(tmp_path: Path) -> None:
    paths = write_dataset(
        tmp_path / "images", count=3, seed=5, height=64, width=80, masks_folder=tmp_path / "m"
    )
    assert [p.name for p in paths] == ["root_000.png", "root_001.png", "root_002.png"]
    again = write_dataset(tmp_path / "again", count=4, seed=5, height=64, width=80)
    for path in paths:
        image = read_image(path)
        assert image.shape == (64, 80, 3)
        np.testing.assert_array_equal(image, read_image(tmp_path / "again" / path.name))
        mask = read_mask(tmp_path / "m" / path.name)
        assert mask.shape == (64, 80)
    assert len(again) == 4
