"""The ablations of :mod:`real_roots`: label and training changes tried without the product."""

from __future__ import annotations

import numpy as np

import cluster.inference.tiled
import cluster.training.sampler
from cluster.nn.tiles import normalise_tile


def per_tile_normalisation() -> None:
    """The ablation: every tile min-max normalised on its own, after augmentation."""

    def own_range(tile: np.ndarray, value_range: object = None) -> np.ndarray:
        return normalise_tile(tile)

    cluster.training.sampler.normalise_tile = own_range  # type: ignore[assignment]
    cluster.inference.tiled.normalise_tile = own_range  # type: ignore[assignment]


def no_augmentation() -> None:
    """The ablation: tiles trained on as cut, scaled to [0, 1] as augmentation leaves them."""

    def as_cut(
        image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        return image.astype(np.float32) / np.float32(255.0), labels

    cluster.training.sampler.augment = as_cut  # type: ignore[assignment]


def dense_share(share: float) -> None:
    """The ablation: the share of tiles a dense annotation of rare objects centres on one."""
    cluster.training.sampler.DENSE_RARE_OBJECT_SHARE = share  # type: ignore[misc]
