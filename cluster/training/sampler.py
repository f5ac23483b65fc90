"""Training tiles from the training annotations (docs/method.md, Epochs, sampling, batch size).

A tile: a random training image, reflect-padded by the network's border (and up to the
tile size where smaller) so edge pixels are as likely as centre ones, a random crop
whose central output region holds labelled pixels, augmentation, per-tile min-max
normalisation, and the labels cut to the output region. Annotations can be added,
replaced or removed from another thread while tiles are drawn.

Memory: each annotation is held as it came (uint8 image and labels) plus two int64 per
image row (counts of labelled and of object pixels, to find either kind fast); the
padding is never stored, a crop maps its rows and columns back into the image
(reflected) as it is cut. The arrays live in a :class:`cluster.training.spill.SpillPool`,
which spills the oldest annotations to local disk past its memory bound; a crop from a
spilled annotation reads only the pages it covers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cluster.api import BACKGROUND, UNLABELLED
from cluster.nn.model import BORDER
from cluster.nn.tiles import context_range, normalise_tile
from cluster.training.augment import augment
from cluster.training.spill import SpillPool

# A dense annotation (most pixels labelled) of a rare object (roots are a few per cent
# of a photo) puts at least this share of its tiles on an object pixel: drawn anywhere,
# nearly every tile is bare soil and the model learns to call everything background
# (benchmarks/RESULTS.md, "Dense labels of rare objects"). Sparse annotations (clear
# examples, corrections) are drawn as configured.
DENSE_LABELLED_FRACTION = 0.5  # labelled pixels / image pixels at or above which it is dense
RARE_OBJECT_FRACTION = 0.1  # object pixels / labelled pixels below which objects are rare
DENSE_RARE_OBJECT_SHARE = 0.5
RANDOM_CROP_TRIES = 10  # plain random crops to try before placing one around a labelled pixel
KEY_PREFIX = "train/"  # this sampler's keys in a pool shared with validation annotations
UINT8_MAX = 255.0


@dataclass(frozen=True)
class _Layout:
    """Where one training annotation lies in its (virtual) padded frame."""

    height: int
    width: int
    pad_top: int
    pad_left: int
    padded_height: int
    padded_width: int
    reflect: bool  # reflect padding; edge padding for images one pixel thin
    labelled: int  # labelled pixels
    objects: int  # pixels labelled with a class other than background

    @property
    def dense_with_rare_objects(self) -> bool:
        """Most pixels labelled, few of them an object (e.g. an imported root mask)."""
        dense = self.labelled >= DENSE_LABELLED_FRACTION * self.height * self.width
        return dense and 0 < self.objects < RARE_OBJECT_FRACTION * self.labelled


def _layout(height: int, width: int, labelled: int, tile_size: int, *, objects: int = 0) -> _Layout:
    """Pad by BORDER on every side, more where the image is smaller than the output."""
    out_size = tile_size - 2 * BORDER
    extra_h = max(0, out_size - height)
    extra_w = max(0, out_size - width)
    pad_top = BORDER + extra_h // 2
    pad_left = BORDER + extra_w // 2
    return _Layout(
        height=height,
        width=width,
        pad_top=pad_top,
        pad_left=pad_left,
        padded_height=height + 2 * BORDER + extra_h,
        padded_width=width + 2 * BORDER + extra_w,
        reflect=min(height, width) > 1,
        labelled=labelled,
        objects=objects,
    )


def _row_starts(wanted: np.ndarray) -> np.ndarray:
    """Cumulative counts of ``wanted`` pixels before each row (one more entry than rows)."""
    starts = np.zeros(wanted.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(wanted, axis=1), out=starts[1:])
    return starts


def _is_labelled(row: np.ndarray) -> np.ndarray:
    return row != UNLABELLED


def _is_object(row: np.ndarray) -> np.ndarray:
    return row > BACKGROUND


def _nth_pixel(
    labels: np.ndarray,
    row_starts: np.ndarray,
    index: int,
    wanted: Callable[[np.ndarray], np.ndarray],
) -> tuple[int, int]:
    """(row, col) of the ``index``-th wanted pixel in row-major order, found by row counts."""
    row = int(np.searchsorted(row_starts, index, side="right")) - 1
    in_row = np.flatnonzero(wanted(np.asarray(labels[row])))
    return row, int(in_row[index - int(row_starts[row])])


def _source_index(positions: np.ndarray, length: int, *, reflect: bool) -> np.ndarray:
    """Image indices of positions along one axis of the padded frame (0 = first pixel)."""
    if not reflect or length == 1:
        return np.clip(positions, 0, length - 1)
    period = 2 * (length - 1)  # reflection without repeating the edge, as np.pad "reflect"
    folded = np.mod(positions, period)
    return np.where(folded >= length, period - folded, folded)


def _crop(
    image: np.ndarray, labels: np.ndarray, layout: _Layout, top: int, left: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``size`` square at (top, left) of the padded frame: owned image and label arrays."""
    row0, col0 = top - layout.pad_top, left - layout.pad_left
    height, width = layout.height, layout.width
    if row0 >= 0 and col0 >= 0 and row0 + size <= height and col0 + size <= width:
        window = (slice(row0, row0 + size), slice(col0, col0 + size))
        return np.array(image[window]), np.array(labels[window])
    rows = np.arange(row0, row0 + size)
    cols = np.arange(col0, col0 + size)
    source_rows = _source_index(rows, height, reflect=layout.reflect)
    source_cols = _source_index(cols, width, reflect=layout.reflect)
    r0, r1 = int(source_rows.min()), int(source_rows.max()) + 1
    c0, c1 = int(source_cols.min()), int(source_cols.max()) + 1
    pick = np.ix_(source_rows - r0, source_cols - c0)
    crop_image = np.asarray(image[r0:r1, c0:c1])[pick]
    crop_labels = np.asarray(labels[r0:r1, c0:c1])[pick]
    crop_labels[(rows < 0) | (rows >= height), :] = UNLABELLED  # padding is unlabelled
    crop_labels[:, (cols < 0) | (cols >= width)] = UNLABELLED
    return crop_image, crop_labels


def _labelled_in(labels: np.ndarray, layout: _Layout, top: int, left: int, size: int) -> int:
    """Labelled pixels in the padded frame's square [top, top + size) x [left, left + size)."""
    row0 = max(0, top - layout.pad_top)
    row1 = min(layout.height, top + size - layout.pad_top)
    col0 = max(0, left - layout.pad_left)
    col1 = min(layout.width, left + size - layout.pad_left)
    if row0 >= row1 or col0 >= col1:
        return 0
    return int(np.count_nonzero(labels[row0:row1, col0:col1]))


class NoAnnotations(LookupError):
    """The sampler holds no training annotation with labelled pixels."""


class TileSampler:
    """Draws training tiles; thread-safe add, replace and remove of annotations.

    Args:
        tile_size: the network's input side.
        pool: where the arrays are kept (shared with the validation annotations by
            :class:`cluster.training.annotation_store.AnnotationStore`); by default a pool of its
            own with the default memory bound.
        foreground_share: the share of tiles whose output region is placed around a pixel
            painted with an object class (where the image has one), the rest anywhere that
            holds a labelled pixel.
    """

    def __init__(
        self, tile_size: int, *, pool: SpillPool | None = None, foreground_share: float = 0.0
    ) -> None:
        if tile_size <= 2 * BORDER:
            raise ValueError(f"tile size {tile_size} leaves no output region")
        if not 0.0 <= foreground_share <= 1.0:
            raise ValueError(f"foreground share must be in [0, 1], got {foreground_share}")
        self.tile_size = tile_size
        self.foreground_share = foreground_share
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else SpillPool()
        self._items: dict[str, _Layout] = {}
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
        """Add or replace an annotation; False (and nothing kept) when it has no labels.

        The sampler keeps its own uint8 copies of the arrays.
        """
        image = np.array(image, dtype=np.uint8, order="C")
        labels = np.array(labels, dtype=np.uint8, order="C")
        row_starts = _row_starts(_is_labelled(labels))
        object_starts = _row_starts(_is_object(labels))
        height, width = labels.shape
        layout = _layout(
            height, width, int(row_starts[-1]), self.tile_size, objects=int(object_starts[-1])
        )
        key = KEY_PREFIX + name
        with self._lock:
            if layout.labelled == 0:
                self._items.pop(name, None)
                self.pool.remove(key)
                return False
            self.pool.put(key, (image, labels, row_starts, object_starts))
            self._items[name] = layout
        return True

    def remove(self, name: str) -> None:
        """Forget an annotation (no error when it is not held)."""
        with self._lock:
            self._items.pop(name, None)
            self.pool.remove(KEY_PREFIX + name)

    def is_spilled(self, name: str) -> bool:
        """Whether the annotation's arrays are on local disk rather than in memory."""
        return self.pool.is_spilled(KEY_PREFIX + name)

    def close(self) -> None:
        """Forget every annotation; a pool of the sampler's own is closed (files deleted)."""
        with self._lock:
            for name in self._items:
                self.pool.remove(KEY_PREFIX + name)
            self._items.clear()
            if self._owns_pool:
                self.pool.close()

    def _crop_position(
        self,
        layout: _Layout,
        labels: np.ndarray,
        starts: tuple[np.ndarray, np.ndarray],
        rng: np.random.Generator,
    ) -> tuple[int, int]:
        """Top-left of a tile whose output region holds at least one labelled pixel
        (an object pixel for a ``foreground_share`` of the tiles where there is one, at
        least DENSE_RARE_OBJECT_SHARE in a dense annotation of rare objects)."""
        size, out = self.tile_size, self.output_size
        max_top = layout.padded_height - size
        max_left = layout.padded_width - size
        row_starts, object_starts = starts
        share = self.foreground_share
        if layout.dense_with_rare_objects:
            share = max(share, DENSE_RARE_OBJECT_SHARE)
        if share and layout.objects and rng.uniform() < share:
            index = int(rng.integers(layout.objects))
            return self._holding(layout, _nth_pixel(labels, object_starts, index, _is_object), rng)
        for _ in range(RANDOM_CROP_TRIES):
            top = int(rng.integers(0, max_top + 1))
            left = int(rng.integers(0, max_left + 1))
            if _labelled_in(labels, layout, top + BORDER, left + BORDER, out):
                return top, left
        # A labelled pixel chosen uniformly (row-major order), found through the row counts.
        index = int(rng.integers(layout.labelled))
        return self._holding(layout, _nth_pixel(labels, row_starts, index, _is_labelled), rng)

    def _holding(
        self, layout: _Layout, pixel: tuple[int, int], rng: np.random.Generator
    ) -> tuple[int, int]:
        """Top-left of a random tile whose output region holds an image pixel (row, col)."""
        out = self.output_size
        max_top = layout.padded_height - self.tile_size
        max_left = layout.padded_width - self.tile_size
        row, col = pixel[0] + layout.pad_top, pixel[1] + layout.pad_left
        # Output region [top + BORDER, top + BORDER + out) must contain (row, col).
        low_top, high_top = max(0, row - BORDER - out + 1), min(max_top, row - BORDER)
        low_left, high_left = max(0, col - BORDER - out + 1), min(max_left, col - BORDER)
        return int(rng.integers(low_top, high_top + 1)), int(rng.integers(low_left, high_left + 1))

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One augmented tile.

        Returns:
            (input 3 x T x T float32 normalised by the tile's context range (values
             outside [0, 1] where augmentation brightened or darkened the tile),
             labels (T - 72) x (T - 72) uint8: 0 unlabelled, class index + 1).
        """
        with self._lock:
            if not self._items:
                raise NoAnnotations("no training annotations to sample from")
            names = list(self._items)
            name = names[rng.integers(len(names))]
            layout = self._items[name]
            image, labels, row_starts, object_starts = self.pool.get(KEY_PREFIX + name)
        top, left = self._crop_position(layout, labels, (row_starts, object_starts), rng)
        size = self.tile_size
        low, high = context_range(image, top - layout.pad_top, left - layout.pad_left, size, size)
        image, labels = _crop(image, labels, layout, top, left, size)
        image, labels = augment(image, labels, rng)  # values in [0, 1]: uint8 / 255
        image = normalise_tile(image, (low / UINT8_MAX, high / UINT8_MAX))
        labels = labels[BORDER : size - BORDER, BORDER : size - BORDER]
        return np.ascontiguousarray(image.transpose(2, 0, 1)), np.ascontiguousarray(labels)

    def sample_batch(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` tiles stacked: (N x 3 x T x T, N x (T - 72) x (T - 72))."""
        tiles = [self.sample(rng) for _ in range(count)]
        return np.stack([t[0] for t in tiles]), np.stack([t[1] for t in tiles])
