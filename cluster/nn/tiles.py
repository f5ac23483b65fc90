"""Tile geometry shared by training and inference: normalisation, reflection, tile grids.

Coordinates are image pixels. A network input tile of side ``t`` yields an output of
side ``t - 2 * BORDER``; the input reaches ``BORDER`` pixels beyond its output on every
side, and pixels outside the image are mirrored in (reflection without repeating the
edge pixel, numpy's ``"reflect"``), so any image size from 1x1 up can be tiled.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from cluster.nn.model import BORDER, DEFAULT_TILE, is_valid_input_size, nearest_valid_input_size

SMALLEST_INPUT = nearest_valid_input_size(1)
# Min-max normalisation looks at a window of at least this side around each tile: what
# RootPainter's 572-px tiles see, whatever tile a device trains or segments with.
CONTEXT_SIDE = DEFAULT_TILE


def normalise_tile(tile: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Min-max normalise a tile (all channels together) as float32.

    ``value_range`` (low, high) maps low to 0 and high to 1 (see :func:`context_range`);
    None takes the tile's own minimum and maximum. A range with no width gives all zeros.
    Training and inference both call this on every network input tile, so the network
    always sees the same value range.
    """
    out = np.asarray(tile, dtype=np.float32)
    low, high = value_range if value_range is not None else (float(out.min()), float(out.max()))
    if high <= low:
        return np.zeros(out.shape, dtype=np.float32)
    return (out - np.float32(low)) * np.float32(1.0 / (high - low))


def _context(start: int, side: int, extent: int) -> slice:
    """Image indices of the window of at least CONTEXT_SIDE centred on [start, start + side)."""
    wide = max(side, CONTEXT_SIDE)
    begin = start - (wide - side) // 2
    return slice(max(0, begin), min(extent, begin + wide))


def context_range(
    image: np.ndarray, top: int, left: int, height: int, width: int
) -> tuple[float, float]:
    """(min, max) of the image over the context window of a tile at (top, left).

    The window has the tile's centre and a side of at least CONTEXT_SIDE, cut to the image,
    so a small tile of bare soil is scaled as the 572-px view around it is, not stretched
    until its grains look like roots. Pixels a tile mirrors in from beyond an edge lie in
    the window too, so the tile's values stay in the range.
    """
    rows = _context(top, height, image.shape[0])
    cols = _context(left, width, image.shape[1])
    window = np.asarray(image[rows, cols])
    return float(window.min()), float(window.max())


def reflect_indices(start: int, stop: int, size: int) -> np.ndarray:
    """Indices into an axis of ``size`` for coordinates ``start..stop-1`` mirrored at its ends.

    Works for any distance beyond the ends and for ``size == 1`` (every index is 0).
    """
    coords = np.arange(start, stop, dtype=np.int64)
    if size == 1:
        return np.zeros_like(coords)
    period = 2 * (size - 1)
    coords = np.mod(coords, period)
    return np.where(coords < size, coords, period - coords)


def crop_reflected(image: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """A ``height`` x ``width`` window of the endlessly mirrored image (a copy)."""
    if top >= 0 and top + height <= image.shape[0]:
        image = image[top : top + height]
    else:
        image = image[reflect_indices(top, top + height, image.shape[0])]
    if left >= 0 and left + width <= image.shape[1]:
        return np.ascontiguousarray(image[:, left : left + width])
    return image[:, reflect_indices(left, left + width, image.shape[1])]


def reflect_pad(image: np.ndarray, pad: int | tuple[int, int, int, int]) -> np.ndarray:
    """Mirror-pad the first two axes; ``pad`` is one width or (top, bottom, left, right)."""
    top, bottom, left, right = (pad,) * 4 if isinstance(pad, int) else pad
    height, width = image.shape[:2]
    return crop_reflected(image, -top, -left, height + top + bottom, width + left + right)


@dataclass(frozen=True)
class AxisTile:
    """One tile along one axis: where its input starts and which output pixels it owns."""

    input_start: int  # image coordinate of the first input pixel (may be negative)
    own_start: int  # first image pixel this tile writes
    own_stop: int  # one past the last

    @property
    def output_start(self) -> int:
        return self.input_start + BORDER


def axis_tiles(extent: int, input_side: int) -> list[AxisTile]:
    """Tiles along an axis with stride = output side, the last one flush with the edge.

    Each pixel in ``0..extent-1`` is owned by exactly one tile. An axis shorter than one
    output is covered by a single tile reaching past its end (mirrored pixels).
    """
    out = input_side - 2 * BORDER
    if out < 1 or extent < 1:
        raise ValueError(f"cannot tile an extent of {extent} with input side {input_side}")
    count = math.ceil(extent / out)
    tiles = []
    for i in range(count):
        output_start = max(0, min(i * out, extent - out))
        own_stop = min((i + 1) * out, extent)
        tiles.append(AxisTile(output_start - BORDER, i * out, own_stop))
    return tiles


def axis_cost(extent: int, input_side: int) -> int:
    """Input pixels computed along one axis: tile count times input side."""
    return math.ceil(extent / (input_side - 2 * BORDER)) * input_side


def _axis_options(extent: int, largest_side: int) -> list[tuple[int, int]]:
    """(input side, axis cost) for every useful tile count, ascending by side."""
    options: dict[int, int] = {}
    count = 1
    while True:
        side = nearest_valid_input_size(math.ceil(extent / count) + 2 * BORDER)
        if side <= largest_side and side not in options:
            options[side] = count * side
        if side == SMALLEST_INPUT:
            break
        # jump to the next count that can give a smaller side
        count = max(count + 1, math.ceil(extent / (side - 2 * BORDER - 1)))
    return sorted(options.items())


def choose_tile_shape(height: int, width: int, *, max_tile_pixels: int) -> tuple[int, int]:
    """Valid input sides (rows, cols) that compute the fewest pixels for an image.

    Sides are chosen per axis, so a tile may be rectangular; one tile may not hold more
    than ``max_tile_pixels`` input pixels (the memory bound). Fewer, larger tiles waste
    less because each tile recomputes a ``BORDER`` margin on every side.
    """
    if max_tile_pixels < SMALLEST_INPUT**2:
        raise ValueError(f"max_tile_pixels must be at least {SMALLEST_INPUT**2}")
    largest = max_tile_pixels // SMALLEST_INPUT
    rows = _axis_options(height, largest)
    cols = _axis_options(width, largest)
    col_sides = [side for side, _ in cols]
    best_cost_upto: list[tuple[int, int]] = []  # running minimum of (cost, side) over cols
    for side, cost in cols:
        prev = best_cost_upto[-1] if best_cost_upto else (cost + 1, side)
        best_cost_upto.append(min(prev, (cost, side)))
    best: tuple[int, int, int] | None = None
    for row_side, row_cost in rows:
        index = bisect.bisect_right(col_sides, max_tile_pixels // row_side) - 1
        if index < 0:
            continue
        col_cost, col_side = best_cost_upto[index]
        candidate = (row_cost * col_cost, row_side, col_side)
        if best is None or candidate < best:
            best = candidate
    if best is None:
        raise ValueError("no tile shape fits the memory bound")
    return best[1], best[2]


def tile_grid(height: int, width: int, shape: tuple[int, int]) -> list[tuple[AxisTile, AxisTile]]:
    """Every (row tile, column tile) pair covering an image with tiles of ``shape``."""
    for side in shape:
        if not is_valid_input_size(side):
            raise ValueError(f"{side} is not a valid network input size")
    return [(r, c) for r in axis_tiles(height, shape[0]) for c in axis_tiles(width, shape[1])]


def used_fraction(height: int, width: int, shape: tuple[int, int]) -> float:
    """Share of the computed output that lands in the image (RootPainter: 37 % at 720x510)."""
    rows = axis_tiles(height, shape[0])
    cols = axis_tiles(width, shape[1])
    computed = len(rows) * len(cols) * (shape[0] - 2 * BORDER) * (shape[1] - 2 * BORDER)
    return height * width / computed
