"""Training tiles always hold labels; epoch length follows docs/method.md."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from cluster.api import BACKGROUND, FOREGROUND
from cluster.training.epoch_plan import (
    METHOD_EPOCH_TILES,
    epoch_complete,
    epoch_length,
    plan_slow_tile,
)
from cluster.training.sampler import NoAnnotations, TileSampler, _crop, _layout

TILE = 124
OUT = TILE - 72


def _annotation(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    labels = np.zeros((height, width), dtype=np.uint8)
    return image, labels


def test_tiles_are_normalised_and_labels_stay_in_range() -> None:
    image, labels = _annotation(600, 500, seed=0)
    labels[590, 3] = FOREGROUND  # sparse labels: crops must be placed around them
    labels[10, 480:484] = BACKGROUND
    sampler = TileSampler(TILE)
    sampler.set("a", image, labels)
    rng = np.random.default_rng(1)
    for _ in range(40):
        tile, crop = sampler.sample(rng)
        assert tile.shape == (3, TILE, TILE) and tile.dtype == np.float32
        assert crop.shape == (OUT, OUT) and crop.dtype == np.uint8
        assert set(np.unique(crop)) <= {0, 1, 2}
        # min-max over the context: this noise image spans 0-255 everywhere, so [0, 1]
        assert 0.0 <= tile.min() < tile.max() <= 1.0


def test_labelled_pixels_are_found_without_augmentation(monkeypatch: pytest.MonkeyPatch) -> None:
    """With augmentation off, the crop holds a label every time, edges included."""
    monkeypatch.setattr("cluster.training.sampler.augment", lambda i, lab, rng: (i / 255.0, lab))
    image, labels = _annotation(300, 300, seed=2)
    labels[0, 0] = FOREGROUND
    labels[299, 150] = BACKGROUND
    sampler = TileSampler(TILE)
    sampler.set("edge", image, labels)
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(60):
        _, crop = sampler.sample(rng)
        assert crop.any()
        seen.update(np.unique(crop[crop > 0]).tolist())
    assert seen == {BACKGROUND, FOREGROUND}  # both edge pixels are reachable


def test_images_smaller_than_a_tile_are_padded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cluster.training.sampler.augment", lambda i, lab, rng: (i / 255.0, lab))
    image, labels = _annotation(20, 30, seed=4)
    labels[:, :] = BACKGROUND
    labels[5:8, 5:25] = FOREGROUND
    sampler = TileSampler(TILE)
    sampler.set("small", image, labels)
    tile, crop = sampler.sample(np.random.default_rng(5))
    assert tile.shape == (3, TILE, TILE)
    # Every real pixel appears once in the crop; the padding is unlabelled.
    assert np.count_nonzero(crop == FOREGROUND) == 60
    assert np.count_nonzero(crop) == 20 * 30


def test_annotations_without_labels_are_not_sampled() -> None:
    sampler = TileSampler(TILE)
    assert not sampler.set("blank", *_annotation(200, 200, seed=6))
    assert len(sampler) == 0
    with pytest.raises(NoAnnotations):
        sampler.sample(np.random.default_rng(0))


def test_replace_and_remove_while_sampling_from_another_thread() -> None:
    sampler = TileSampler(TILE)
    image, labels = _annotation(200, 200, seed=7)
    labels[100, 100] = FOREGROUND
    sampler.set("keep", image, labels)
    errors: list[BaseException] = []
    stop = threading.Event()

    def churn() -> None:
        try:
            for index in range(50):
                sampler.set(f"n{index % 3}", image, labels)
                sampler.remove(f"n{(index + 1) % 3}")
        except BaseException as error:  # reported to the main thread
            errors.append(error)
        finally:
            stop.set()

    thread = threading.Thread(target=churn)
    thread.start()
    rng = np.random.default_rng(8)
    while not stop.is_set():
        sampler.sample(rng)
    thread.join()
    assert not errors
    assert "keep" in sampler.names()


@pytest.mark.parametrize(("height", "width"), [(300, 200), (20, 30), (1, 40), (2, 90)])
def test_crops_match_reflect_padding_without_storing_it(height: int, width: int) -> None:
    """Every crop equals the same window of the image padded the way docs/method.md says."""
    image, labels = _annotation(height, width, seed=9)
    labels[:] = np.random.default_rng(10).integers(0, 3, (height, width))
    layout = _layout(height, width, int(np.count_nonzero(labels)), TILE)
    pads = (
        (layout.pad_top, layout.padded_height - height - layout.pad_top),
        (layout.pad_left, layout.padded_width - width - layout.pad_left),
    )
    mode = "reflect" if min(height, width) > 1 else "edge"
    padded_image = np.pad(image, (*pads, (0, 0)), mode=mode)
    padded_labels = np.pad(labels, pads)
    for top in range(0, layout.padded_height - TILE + 1, 7):
        for left in range(0, layout.padded_width - TILE + 1, 7):
            crop_image, crop_labels = _crop(image, labels, layout, top, left, TILE)
            window = (slice(top, top + TILE), slice(left, left + TILE))
            assert np.array_equal(crop_image, padded_image[window])
            assert np.array_equal(crop_labels, padded_labels[window])


def test_an_annotation_costs_its_pixels_and_row_indexes() -> None:
    """Held compactly: uint8 image and labels plus two int64 per row (labelled pixels and
    object pixels), no padded copies."""
    height, width = 256, 256
    image, labels = _annotation(height, width, seed=11)
    labels[::2] = FOREGROUND
    sampler = TileSampler(TILE)
    sampler.set("a", image, labels)
    assert sampler.pool.resident_bytes == height * width * 4 + 2 * (height + 1) * 8
    sampler.close()
    assert sampler.pool.resident_bytes == 0


def test_epoch_length_on_fast_devices_is_methods_rule() -> None:
    assert epoch_length(10) == METHOD_EPOCH_TILES
    assert epoch_length(400) == 800


def test_epoch_length_on_slow_devices_keeps_the_timing() -> None:
    assert epoch_length(3, seconds_per_tile=0.3, target_epoch_seconds=30) == 100
    assert epoch_length(200, seconds_per_tile=0.3, target_epoch_seconds=30) == 400
    assert epoch_length(3, seconds_per_tile=0.3, fixed=7) == 7


def test_slow_epochs_end_on_time_but_never_below_two_tiles_per_annotation() -> None:
    assert not epoch_complete(50, 29.0, n_train=3, slow=True, target_epoch_seconds=30)
    assert epoch_complete(50, 30.5, n_train=3, slow=True, target_epoch_seconds=30)
    assert not epoch_complete(50, 99.0, n_train=40, slow=True, target_epoch_seconds=30)
    assert epoch_complete(612, 1.0, n_train=40, slow=False)
    assert not epoch_complete(600, 999.0, n_train=40, slow=False)


def test_slow_tile_is_the_largest_that_fills_an_epoch() -> None:
    measured: list[int] = []

    def seconds(size: int) -> float:  # cost grows with output area
        measured.append(size)
        return 0.27 * ((size - 72) / 180) ** 2

    tile, per_tile = plan_slow_tile(seconds, target_epoch_seconds=30, min_tiles=96)
    assert tile == 252
    assert per_tile == pytest.approx(0.27)
    assert measured == [188, 252, 316]  # stops measuring at the first too-slow size


def test_a_share_of_tiles_is_placed_on_painted_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Corrections are mostly background: asked to, the sampler still centres tiles on the
    few root pixels painted, where plain sampling almost never meets them."""
    monkeypatch.setattr("cluster.training.sampler.augment", lambda i, lab, rng: (i / 255.0, lab))
    image, labels = _annotation(600, 600, seed=4)
    labels[::3, :] = BACKGROUND
    labels[300, 300:304] = FOREGROUND  # one short root stroke among 120,000 background pixels
    rng = np.random.default_rng(5)
    with_roots = {}
    for share in (0.0, 0.5, 1.0):
        sampler = TileSampler(TILE, foreground_share=share)
        sampler.set("a", image, labels)
        with_roots[share] = sum(
            bool((sampler.sample(rng)[1] == FOREGROUND).any()) for _ in range(60)
        )
    assert with_roots[1.0] == 60
    assert 15 <= with_roots[0.5] <= 45
    assert with_roots[0.0] <= 5


def test_a_dense_annotation_of_rare_roots_puts_half_its_tiles_on_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An imported hand mask labels every pixel, roots a few per cent: drawn anywhere,
    nearly every tile would be bare soil. Such an annotation gets about half its tiles on
    a root without being asked; the same roots painted sparsely are drawn as before."""
    monkeypatch.setattr("cluster.training.sampler.augment", lambda i, lab, rng: (i / 255.0, lab))
    image, _ = _annotation(600, 600, seed=6)
    dense = np.full((600, 600), BACKGROUND, dtype=np.uint8)
    dense[100:104, 100:400] = FOREGROUND  # one thin root: 0.3 % of the labelled pixels
    sparse = np.zeros_like(dense)
    sparse[::3, :] = dense[::3, :]  # a third of the pixels: not dense
    rng = np.random.default_rng(7)
    with_roots = {}
    for name, labels in (("dense", dense), ("sparse", sparse)):
        sampler = TileSampler(TILE)
        sampler.set(name, image, labels)
        with_roots[name] = sum(
            bool((sampler.sample(rng)[1] == FOREGROUND).any()) for _ in range(80)
        )
    assert 28 <= with_roots["dense"] <= 60
    assert with_roots["sparse"] <= 20
