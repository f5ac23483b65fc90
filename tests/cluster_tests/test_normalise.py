"""Input normalisation sees the same context whatever tile trains or segments."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cluster.api import BACKGROUND, FOREGROUND
from cluster.inference.tiled import segment
from cluster.nn.model import BORDER
from cluster.nn.tiles import context_range, normalise_tile
from cluster.training.sampler import TileSampler

BRIGHT = 0.6  # normalised brightness the fake model calls root


class BrightIsRoot(nn.Module):
    """Crops like the U-Net; foreground where the normalised input is brighter than BRIGHT."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, BORDER:-BORDER, BORDER:-BORDER].mean(dim=1)
        fg = 1000.0 * (x - BRIGHT)
        return torch.stack([torch.zeros_like(fg), fg], dim=1)


def _soil_with_a_root(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grey soil grains (90-110) with one bright root across the middle."""
    rng = np.random.default_rng(seed)
    image = np.repeat(rng.integers(90, 111, (600, 600, 1), dtype=np.uint8), 3, axis=2)
    root = np.zeros((600, 600), dtype=bool)
    root[298:302] = True
    image[root] = 250
    return image, root


def test_a_small_tile_of_bare_soil_is_not_stretched_into_roots() -> None:
    """A 124-px tile of soil alone is scaled as the 572-px view around it is, so the soil's
    brighter grains stay soil and the result does not depend on the tile."""
    image, root = _soil_with_a_root()
    small, _ = segment([BrightIsRoot()], image, tile_size=124, tta=False)
    large, _ = segment([BrightIsRoot()], image, tile_size=572, tta=False)
    assert np.array_equal(small, root)
    assert np.array_equal(large, root)


def test_training_tiles_are_scaled_by_the_same_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sampler's soil-only tiles keep the narrow range they have in the wider view."""
    monkeypatch.setattr("cluster.training.sampler.augment", lambda i, lab, rng: (i / 255.0, lab))
    image, root = _soil_with_a_root(1)
    labels = np.full(root.shape, BACKGROUND, dtype=np.uint8)
    labels[root] = FOREGROUND
    sampler = TileSampler(124)
    sampler.set("a", image, labels)
    rng = np.random.default_rng(2)
    tiles = [sampler.sample(rng)[0] for _ in range(30)]
    soil_only = [tile for tile in tiles if tile.max() < 0.99]  # the root normalises to 1
    assert len(soil_only) >= 10
    assert max(float(tile.max() - tile.min()) for tile in soil_only) < 0.2  # 20 of 160 levels


def test_context_is_at_least_the_tile_and_the_range_holds_the_tile() -> None:
    image, _ = _soil_with_a_root(3)
    for top, left, side in [(-36, -36, 124), (500, 520, 124), (-36, -36, 700), (100, 40, 572)]:
        low, high = context_range(image, top, left, side, side)
        rows = np.clip(np.arange(top, top + side), 0, 599)
        cols = np.clip(np.arange(left, left + side), 0, 599)
        tile = image[np.ix_(rows, cols)]
        assert low <= tile.min() and tile.max() <= high
        normalised = normalise_tile(tile, (low, high))
        assert normalised.min() >= 0.0 and normalised.max() <= 1.0
