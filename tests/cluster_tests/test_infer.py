"""Tiled inference: stitching geometry, flip TTA, ensembles, cancellation, caching, memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

from cluster.inference.options import Cancelled
from cluster.inference.tiled import segment, segment_probability
from cluster.nn.model import BORDER, UNetGNRes
from cluster.nn.tiles import choose_tile_shape, tile_grid, used_fraction

SATURATE = 1000.0  # logit scale that makes the fake models' probabilities exactly 0 or 1


class RedOverGreen(nn.Module):
    """Crops BORDER per side like the U-Net; foreground exactly where red > green.

    Per-tile min-max normalisation is a positive affine map on all channels together,
    so the sign of red - green survives it: the stitched result must reproduce the
    pattern pixel for pixel if tiling, cropping and flipping are right.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, BORDER:-BORDER, BORDER:-BORDER]
        fg = SATURATE * (x[:, 0] - x[:, 1])
        return torch.stack([torch.zeros_like(fg), fg], dim=1)


class AlwaysForeground(nn.Module):
    """Crops like the U-Net; foreground everywhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :2, BORDER:-BORDER, BORDER:-BORDER]
        out = torch.zeros_like(x)
        out[:, 1] = SATURATE
        return out


def pattern_image(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An image whose red > green exactly on a random binary pattern (returned too)."""
    pattern = np.random.default_rng(seed).integers(0, 2, (height, width)).astype(np.uint8)
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[..., 0] = 100 + 50 * pattern
    image[..., 1] = 150 - 50 * pattern
    image[..., 2] = 7  # never lets a tile be constant, not even for a 1x1 image
    return image, pattern


SIZES = [(1, 1), (1, 1000), (37, 5), (720, 510), (51, 53), (52, 104), (103, 105), (157, 1)]


@pytest.mark.parametrize(("height", "width"), SIZES)
@pytest.mark.parametrize("tile_size", [None, 124])
def test_stitching_reproduces_every_pixel(height: int, width: int, tile_size: int | None) -> None:
    image, pattern = pattern_image(height, width)
    prob = segment_probability([RedOverGreen()], image, tile_size=tile_size, tta=False)
    assert prob.shape == (height, width)
    assert prob.dtype == np.float32
    np.testing.assert_array_equal(prob, pattern.astype(np.float32))


@pytest.mark.parametrize(("height", "width"), [(1, 1), (37, 5), (103, 105), (300, 200)])
def test_tile_grid_owns_each_pixel_once(height: int, width: int) -> None:
    for shape in [(76, 76), (124, 92), choose_tile_shape(height, width, max_tile_pixels=50_000)]:
        count = np.zeros((height, width), dtype=np.int32)
        for row, col in tile_grid(height, width, shape):
            count[row.own_start : row.own_stop, col.own_start : col.own_stop] += 1
            assert row.own_start >= row.output_start
            assert row.own_stop <= row.output_start + shape[0] - 2 * BORDER
        np.testing.assert_array_equal(count, 1)


def test_tile_choice_wastes_little_output() -> None:
    # RootPainter's square 572 tiles use 37 % of the computed output on a 720x510 image
    assert used_fraction(720, 510, (572, 572)) < 0.4
    shape = choose_tile_shape(720, 510, max_tile_pixels=480_000)
    assert used_fraction(720, 510, shape) > 0.95
    big = choose_tile_shape(2273, 2550, max_tile_pixels=480_000)
    assert big[0] * big[1] <= 480_000
    assert used_fraction(2273, 2550, big) > 0.9


@pytest.mark.parametrize("tile_size", [None, 124])
def test_flip_tta_undoes_the_flip(tile_size: int | None) -> None:
    image, pattern = pattern_image(130, 171, seed=3)
    with_tta = segment_probability([RedOverGreen()], image, tile_size=tile_size, tta=True)
    np.testing.assert_array_equal(with_tta, pattern.astype(np.float32))


def test_ensemble_averages_models() -> None:
    image, pattern = pattern_image(90, 140, seed=5)
    models = [RedOverGreen(), AlwaysForeground()]
    prob = segment_probability(models, image, tile_size=108, batch_size=3)
    np.testing.assert_allclose(prob, (pattern + 1.0) / 2.0, atol=1e-6)
    mask, prob16 = segment(models, image, threshold=0.75, tile_size=108)
    np.testing.assert_array_equal(mask, pattern)
    assert mask.dtype == np.uint8
    assert prob16.dtype == np.float16


@pytest.fixture(scope="module")
def unet() -> UNetGNRes:
    torch.manual_seed(0)
    return UNetGNRes().eval().to(memory_format=torch.channels_last)


def test_real_unet_same_whatever_the_batch(unet: UNetGNRes) -> None:
    image = np.random.default_rng(1).integers(0, 256, (104, 156, 3), dtype=np.uint8)
    one = segment_probability([unet], image, tile_size=124, batch_size=1)
    many = segment_probability([unet], image, tile_size=124, batch_size=5)
    assert one.min() >= 0.0
    assert one.max() <= 1.0
    np.testing.assert_allclose(one, many, atol=1e-4)
    # the grid is symmetric here (3 whole tiles across), so TTA = mean of image and mirror
    plain = segment_probability([unet], image, tile_size=124, tta=False)
    mirrored = segment_probability([unet], image[:, ::-1].copy(), tile_size=124, tta=False)
    np.testing.assert_allclose(one, (plain + mirrored[:, ::-1]) / 2, atol=1e-4)


def test_real_unet_bf16_close_to_fp32(unet: UNetGNRes) -> None:
    image = np.random.default_rng(2).integers(0, 256, (60, 70, 3), dtype=np.uint8)
    full = segment_probability([unet], image)
    half = segment_probability([unet], image, dtype=torch.bfloat16)
    assert half.dtype == np.float32
    assert np.abs(full - half).mean() < 0.05


def test_only_where_skips_unwanted_tiles() -> None:
    image, _ = pattern_image(200, 200, seed=7)
    where = np.zeros((200, 200), dtype=bool)
    where[10, 10] = True
    seen: list[tuple[int, int]] = []
    prob = segment_probability(
        [AlwaysForeground()],
        image,
        tile_size=124,
        only_where=where,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (1, 1)  # one tile of 52x52 output computed, not 16
    assert prob[:52, :52].min() == 1.0
    assert prob[52:, :].max() == 0.0


def test_should_stop_cancels_between_batches() -> None:
    image, _ = pattern_image(200, 200)
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) >= 3

    with pytest.raises(Cancelled):
        segment_probability([RedOverGreen()], image, tile_size=124, batch_size=1, should_stop=stop)
    assert len(asked) == 3


def test_ensemble_memory_does_not_grow_with_models() -> None:
    height = width = 3000
    image = np.full((height, width, 3), 100, dtype=np.uint8)
    image[::7, ::5, 0] = 200
    map_bytes = height * width * 4
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        prob = segment_probability([RedOverGreen(), AlwaysForeground(), RedOverGreen()], image)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert prob.shape == (height, width)
    assert peak < 2 * map_bytes  # the result map plus tile buffers, not a map per model


def test_small_tile_models_keep_their_training_tile() -> None:
    from cluster.inference.planning import tile_for_model
    from cluster.nn.model import DEFAULT_TILE

    assert tile_for_model(124) == 124 and tile_for_model(252) == 252
    assert tile_for_model(DEFAULT_TILE) is None  # full-size models choose per image


def test_an_ensemble_takes_the_smallest_tile_any_model_needs() -> None:
    from cluster.inference.planning import ensemble_tile
    from cluster.nn.model import DEFAULT_TILE

    assert ensemble_tile([DEFAULT_TILE, 252, 188]) == 188
    assert ensemble_tile([DEFAULT_TILE, DEFAULT_TILE]) is None
