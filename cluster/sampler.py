"""Training tiles from the training annotations (METHOD.md, Epochs, sampling, batch size).

A tile: a random training image, reflect-padded by the network's border (and up to the
tile size where smaller) so edge pixels are as likely as centre ones, a random crop
whose central output region holds labelled pixels, augmentation, per-tile min-max
normalisation, and the labels cut to the output region. Annotations can be added,
replaced or removed from another thread while tiles are drawn.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from cluster.api import UNLABELLED
from cluster.augment import augment
from cluster.model import BORDER
from cluster.tiles import normalise_tile

RANDOM_CROP_TRIES = 10  # plain random crops to try before placing one around a labelled pixel


@dataclass(frozen=True)
class _Padded:
    """One training annotation, padded once so crops are plain slices."""

    image: np.ndarray  # (H + pads) x (W + pads) x 3 uint8, reflect-padded
    labels: np.ndarray  # same size, uint8; padding is unlabelled
    labelled_sum: np.ndarray  # summed-area table of labelled pixels, one row/col larger
    labelled: np.ndarray  # K x 2 (row, col) of labelled pixels in the padded frame


def _pad_for_tile(image: np.ndarray, labels: np.ndarray, tile_size: int) -> _Padded:
    """Reflect-pad the image by BORDER (more where it is smaller than a tile)."""
    height, width = labels.shape
    out_size = tile_size - 2 * BORDER
    extra_h = max(0, out_size - height)
    extra_w = max(0, out_size - width)
    pads = (
        (BORDER + extra_h // 2, BORDER + extra_h - extra_h // 2),
        (BORDER + extra_w // 2, BORDER + extra_w - extra_w // 2),
    )
    padded_image = np.pad(
        image, (*pads, (0, 0)), mode="reflect" if min(height, width) > 1 else "edge"
    )
    padded_labels = np.pad(labels, pads, mode="constant", constant_values=UNLABELLED)
    mask = padded_labels != UNLABELLED
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    np.cumsum(np.cumsum(mask, axis=0), axis=1, out=table[1:, 1:])
    return _Padded(padded_image, padded_labels, table, np.argwhere(mask))


def _labelled_in(padded: _Padded, top: int, left: int, size: int) -> int:
    """Labelled pixels in the square [top, top + size) x [left, left + size)."""
    t = padded.labelled_sum
    return int(
        t[top + size, left + size] - t[top, left + size] - t[top + size, left] + t[top, left]
    )


class NoAnnotations(LookupError):
    """The sampler holds no training annotation with labelled pixels."""


class TileSampler:
    """Draws training tiles; thread-safe add, replace and remove of annotations."""

    def __init__(self, tile_size: int) -> None:
        if tile_size <= 2 * BORDER:
            raise ValueError(f"tile size {tile_size} leaves no output region")
        self.tile_size = tile_size
        self._items: dict[str, _Padded] = {}
        self._lock = threading.Lock()

    @property
    def output_size(self) -> int:
        """Side of the label crop (the network's output for one tile)."""
        return self.tile_size - 2 * BORDER

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def names(self) -> list[str]:
        """Names of the training annotations held."""
        with self._lock:
            return sorted(self._items)

    def set(self, name: str, image: np.ndarray, labels: np.ndarray) -> bool:
        """Add or replace an annotation; False (and nothing kept) when it has no labels."""
        padded = _pad_for_tile(image, labels, self.tile_size)
        with self._lock:
            if len(padded.labelled) == 0:
                self._items.pop(name, None)
                return False
            self._items[name] = padded
        return True

    def remove(self, name: str) -> None:
        """Forget an annotation (no error when it is not held)."""
        with self._lock:
            self._items.pop(name, None)

    def _crop_position(self, padded: _Padded, rng: np.random.Generator) -> tuple[int, int]:
        """Top-left of a tile whose output region holds at least one labelled pixel."""
        size, out = self.tile_size, self.output_size
        max_top = padded.labels.shape[0] - size
        max_left = padded.labels.shape[1] - size
        for _ in range(RANDOM_CROP_TRIES):
            top = int(rng.integers(0, max_top + 1))
            left = int(rng.integers(0, max_left + 1))
            if _labelled_in(padded, top + BORDER, left + BORDER, out):
                return top, left
        row, col = padded.labelled[rng.integers(len(padded.labelled))]
        # Output region [top + BORDER, top + BORDER + out) must contain (row, col).
        low_top, high_top = max(0, row - BORDER - out + 1), min(max_top, row - BORDER)
        low_left, high_left = max(0, col - BORDER - out + 1), min(max_left, col - BORDER)
        return int(rng.integers(low_top, high_top + 1)), int(rng.integers(low_left, high_left + 1))

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One augmented tile.

        Returns:
            (input 3 x T x T float32 normalised to [0, 1] per tile,
             labels (T - 72) x (T - 72) uint8 in {0, 1, 2}).
        """
        with self._lock:
            if not self._items:
                raise NoAnnotations("no training annotations to sample from")
            names = list(self._items)
            padded = self._items[names[rng.integers(len(names))]]
        top, left = self._crop_position(padded, rng)
        size = self.tile_size
        image = padded.image[top : top + size, left : left + size]
        labels = padded.labels[top : top + size, left : left + size]
        image, labels = augment(image, labels, rng)
        image = normalise_tile(image)
        labels = labels[BORDER : size - BORDER, BORDER : size - BORDER]
        return np.ascontiguousarray(image.transpose(2, 0, 1)), np.ascontiguousarray(labels)

    def sample_batch(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` tiles stacked: (N x 3 x T x T, N x (T - 72) x (T - 72))."""
        tiles = [self.sample(rng) for _ in range(count)]
        return np.stack([t[0] for t in tiles]), np.stack([t[1] for t in tiles])
