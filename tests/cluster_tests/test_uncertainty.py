"""The uncertainty score and the disagreement map the segmenters compute with it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cluster.api import SegmentationRequest
from cluster.backends.local import LocalBackend
from cluster.backends.segmenter_actor import SegmenterActor
from cluster.inference.tiled import segment, segment_probability, segment_with_uncertainty
from cluster.inference.uncertainty import binary_entropy, uncertainty_score
from cluster.nn.model import BORDER, UNetGNRes
from cluster.nn.snapshot import snapshot_from_model

SHAPE = (90, 130)
TILE = 124  # a valid network input size: several tiles over SHAPE


class Constant(nn.Module):
    """Crops like the U-Net; foreground probability ``p`` everywhere."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.logit = math.log(p / (1 - p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :2, BORDER:-BORDER, BORDER:-BORDER]
        out = torch.zeros_like(x)
        out[:, 1] = self.logit
        return out


class LeansLeft(nn.Module):
    """Foreground more likely towards each tile's left edge: a flip changes its answer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :2, BORDER:-BORDER, BORDER:-BORDER]
        ramp = torch.linspace(2.0, -2.0, x.shape[3])
        out = torch.zeros_like(x)
        out[:, 1] = ramp + 0.5 * x[:, 0]
        return out


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)


def test_a_confident_map_scores_about_zero_and_a_coin_toss_the_most() -> None:
    sure = np.where(np.random.default_rng(1).random(SHAPE) > 0.5, 1.0, 0.0)
    assert uncertainty_score(sure) < 1e-4
    assert uncertainty_score(np.full(SHAPE, 0.5)) == pytest.approx(1.0, abs=1e-6)
    assert uncertainty_score(np.full(SHAPE, 0.9)) < uncertainty_score(np.full(SHAPE, 0.7))
    assert binary_entropy(np.array([0.0, 0.5, 1.0])) == pytest.approx([0, 1, 0], abs=1e-5)


def test_disagreement_raises_the_score() -> None:
    p = np.full(SHAPE, 0.9)
    plain = uncertainty_score(p)
    assert uncertainty_score(p, disagreement=np.full(SHAPE, 0.4)) == pytest.approx(plain + 0.4)
    assert uncertainty_score(p, disagreement=0.2) == pytest.approx(plain + 0.2)


def test_the_disagreement_option_keeps_the_probability_the_same() -> None:
    for models in ([LeansLeft()], [LeansLeft(), Constant(0.3)]):
        for tta in (False, True):
            before = segment_probability(models, image(), tile_size=TILE, tta=tta)
            spread = np.empty(SHAPE, np.float32)
            after = segment_probability(
                models, image(), tile_size=TILE, tta=tta, disagreement=spread
            )
            np.testing.assert_allclose(after, before, atol=1e-6)
            assert spread.min() >= 0.0
            assert (spread.max() > 0.01) == (tta or len(models) > 1)


def test_ensemble_disagreement_is_the_gap_between_two_models() -> None:
    spread = np.empty(SHAPE, np.float32)
    p = segment_probability(
        [Constant(0.2), Constant(0.8)], image(), tile_size=TILE, tta=False, disagreement=spread
    )
    np.testing.assert_allclose(p, 0.5, atol=1e-5)
    np.testing.assert_allclose(spread, 0.6, atol=1e-5)


def test_a_flip_sensitive_model_is_less_sure_than_a_symmetric_one() -> None:
    mask, probability, score = segment_with_uncertainty([LeansLeft()], image(), tile_size=TILE)
    plain_mask, plain_probability = segment([LeansLeft()], image(), tile_size=TILE)
    assert np.array_equal(mask, plain_mask)
    assert np.array_equal(probability, plain_probability)
    entropy_only = uncertainty_score(probability)
    assert score > entropy_only + 0.05
    _, _, sure = segment_with_uncertainty([Constant(0.02)], image(), tile_size=TILE)
    assert sure < 0.2 < score


async def test_the_local_backend_tags_results_with_a_score() -> None:
    backend = LocalBackend(segment_tile_size=TILE)
    try:
        torch.set_num_threads(1)
        await backend.request_segmentation(SegmentationRequest("a", image()))
        result = await backend.segmentation("a", timeout=60)
        assert result is not None and result.uncertainty is not None
        assert 0.0 <= result.uncertainty <= 2.0
        assert result.model_version == 1
    finally:
        await backend.close()


def test_the_segmenter_actor_tags_results_with_a_score() -> None:
    segmenter = SegmenterActor(tile_size=TILE, device="cpu")
    try:
        segmenter.set_model(snapshot_from_model(UNetGNRes(), version=3, tile_size=TILE))
        segmenter.request(SegmentationRequest("b", image(2)))
        result = segmenter.result("b", timeout=60)
        assert result is not None and result.model_version == 3
        assert result.uncertainty is not None and 0.0 <= result.uncertainty <= 2.0
    finally:
        segmenter.close()
