"""The training engine learns three foreground classes and background from a generated stack."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from cluster.api import AnnotatedImage, TrainingConfig
from cluster.inference.tiled import segment
from cluster.nn.devices import pick_device
from cluster.nn.snapshot import model_from_snapshot
from cluster.simulate.synthetic_classes import CLASS_NAMES, generate_class_stack
from cluster.training.confusion import Confusion, class_confusions
from cluster.training.engine import TrainingEngine

log = logging.getLogger(__name__)

CPU = pick_device("cpu")
SIDE = 128  # slice height and width
SLICES = 10
ANNOTATED_SLICES = (0, 4, 8)  # per stack: slices 4 apart share few objects
TRAIN_STACKS = 3
VALIDATION = {(0, 4), (2, 8)}  # (stack, slice) pairs held for validation
HELD_OUT_STACKS = 2
TILE = 188  # output 116 px: one tile sees most of a 128 px slice
BATCH = 4
EPOCH_TILES = 32
EPOCHS = 6
SEED = 0
# Held-out per-class F1 (pores, roots, grains) on 6 slices of 2 unseen stacks, every pixel,
# measured with this setup at one thread on the shared 2-core dev machine (53-63 s each):
# engine seed 0: 0.927 / 0.931 / 0.933; seed 1: 0.911 / 0.901 / 0.905; seed 2 (other
# stacks too): 0.872 / 0.901 / 0.891. Validation F1 was 0.90-0.93 after 6 epochs and still
# rising; one stack alone (fewer roots to learn from) gave held-out roots 0.75-0.82, hence
# three. The bar leaves 0.07 below the worst run seen; predicting background everywhere
# scores 0 for every class.
MIN_CLASS_F1 = 0.8


def _stack(seed: int) -> tuple[np.ndarray, np.ndarray]:
    return generate_class_stack(slices=SLICES, height=SIDE, width=SIDE, seed=seed)


@pytest.mark.timeout(600)  # ~60 s on one core of the busy dev machine
def test_engine_learns_three_materials_from_annotated_slices() -> None:
    config = TrainingConfig(
        classes=CLASS_NAMES, tile_size=TILE, batch_size=BATCH, epoch_tiles=EPOCH_TILES, seed=SEED
    )
    engine = TrainingEngine(config, device=CPU, threads=1)
    for stack in range(TRAIN_STACKS):
        images, labels = _stack(SEED * 10 + stack)
        for z in ANNOTATED_SLICES:
            split = "val" if (stack, z) in VALIDATION else "train"
            item = AnnotatedImage(f"scan{stack}.z{z + 1:04d}", images[z], labels[z] + 1, split)
            engine.set_annotation(item)
    for _ in range(EPOCHS):
        assert engine.run_epoch() is not None

    model = model_from_snapshot(engine.best_snapshot()).eval()
    counts = [Confusion()] * (len(CLASS_NAMES) - 1)
    for stack in range(HELD_OUT_STACKS):
        images, labels = _stack(1000 + SEED * 10 + stack)
        for z in ANNOTATED_SLICES:
            mask, _ = segment([model], images[z], tile_size=TILE, device=CPU)
            assert mask.max() < len(CLASS_NAMES)
            found = class_confusions(mask, labels[z] + 1, n_classes=len(CLASS_NAMES))
            counts = [a + b for a, b in zip(counts, found, strict=True)]
    scores = ", ".join(f"{n} {c.f1:.3f}" for n, c in zip(CLASS_NAMES[1:], counts, strict=True))
    log.info("held-out F1: %s; validation per class %s", scores, engine.epoch_log[-1].class_f1)
    assert engine.best_snapshot().classes == CLASS_NAMES
    assert all(c.f1 >= MIN_CLASS_F1 for c in counts), scores
