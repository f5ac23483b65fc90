"""``rptui bench`` scores a model the way it segments: at the threshold the model records."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cluster.inference.tiled import segment_probability
from cluster.io.model_metadata import FOREGROUND_THRESHOLD
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from rptui.bench.evaluate import evaluate_model
from rptui.bench.pairs import ImagePair

TILE = 124


def test_held_out_scores_use_the_models_own_threshold(tmp_path: Path) -> None:
    torch.manual_seed(0)
    network = UNetGNRes().eval()
    photo = np.random.default_rng(5).integers(0, 256, (90, 130, 3), dtype=np.uint8)
    probability = segment_probability([network], photo, tile_size=TILE, tta=False)
    cut = float(np.quantile(probability, 0.7))
    Image.fromarray(photo).save(tmp_path / "a.png")
    Image.fromarray(((probability > cut) * 255).astype(np.uint8)).save(tmp_path / "a_mask.png")
    pairs = [ImagePair("a", tmp_path / "a.png", tmp_path / "a_mask.png")]
    plain = snapshot_from_model(network, version=2, tile_size=TILE)
    own = dataclasses.replace(plain, metadata={FOREGROUND_THRESHOLD: repr(cut)})
    at_own, at_default = evaluate_model(own, pairs), evaluate_model(plain, pairs)
    assert at_own.f1 > 0.95  # the truth is this model cut at its own threshold
    assert at_own.f1 > at_default.f1 + 0.03
