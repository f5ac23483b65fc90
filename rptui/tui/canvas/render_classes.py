"""Multi-class overlays: one colour per class, and masks reduced without mixing classes.

When zoomed out, a view pixel covers a block of image pixels that may hold several
classes. Taking a max (or bitwise or) of class numbers would invent a class that is not
there, so each block shows the *least frequent* non-zero value it holds: a one-pixel
root crossing a block of soil still shows as root, and a block of one class shows it.
Boundaries between two large regions show whichever has fewer pixels in the block.
"""

from __future__ import annotations

import numpy as np

RGB = tuple[int, int, int]
MAX_VALUE = 15  # the largest mask value (labels of 10 classes reach 10)
COUNT_SAMPLES = 4  # pixels counted along each side of a large block
_VALUE_BITS = np.zeros(256, np.uint16)  # value v > 0 -> bit v - 1
_VALUE_BITS[1 : MAX_VALUE + 1] = 1 << np.arange(MAX_VALUE, dtype=np.uint16)
NARROW_VALUES = 7  # values up to this (6 classes' labels) fit one byte of bits
_WORD = np.dtype(np.uint64)
_BIT_VALUES = np.zeros(1 << MAX_VALUE, np.uint8)  # a single bit -> its value
_BIT_VALUES[_VALUE_BITS[1 : MAX_VALUE + 1]] = np.arange(1, MAX_VALUE + 1, dtype=np.uint8)


def rarest_per_block(
    mask: np.ndarray,
    row_starts: np.ndarray,
    col_starts: np.ndarray,
) -> np.ndarray:
    """The least frequent non-zero value of each block of ``mask`` (0 where none is).

    Blocks start at ``row_starts`` x ``col_starts`` (increasing) and run to the next start
    (the last to the edge of ``mask``). Which values a block holds is exact (a bitwise or of
    one bit per value, so a single pixel counts); how often each occurs is counted on every
    pixel of small blocks and on a grid of about ``COUNT_SAMPLES`` x ``COUNT_SAMPLES`` pixels
    per block of large ones (approximate, but a value held is never dropped). Ties go to
    the smaller value. Values are 0..MAX_VALUE.
    """
    mask = np.asarray(mask, np.uint8)
    out = np.zeros((len(row_starts), len(col_starts)), np.uint8)
    if mask.size == 0 or out.size == 0:
        return out
    if int(mask.max()) > MAX_VALUE:
        raise ValueError(f"mask values must be 0..{MAX_VALUE}, got {int(mask.max())}")
    onehot = _one_hot(mask)
    bits = np.bitwise_or.reduceat(_or_rows(onehot, row_starts), col_starts, axis=1)
    bits = bits.astype(np.uint16)
    one_value = (bits & (bits - 1)) == 0  # no value or a single one: no counting needed
    out[one_value] = _BIT_VALUES[bits[one_value]]
    if one_value.all():
        return out
    step = max(1, _shortest(row_starts, mask.shape[0], col_starts, mask.shape[1]) // COUNT_SAMPLES)
    sample = mask[::step, ::step]
    sample_rows, sample_cols = -(-row_starts // step), -(-col_starts // step)
    best = np.full(out.shape, np.iinfo(np.int64).max, np.int64)
    mixed = ~one_value
    for value in range(1, MAX_VALUE + 1):
        holds = mixed & ((bits & _VALUE_BITS[value]) > 0)
        if not holds.any():
            continue
        hits = (sample == value).astype(np.int32)
        counts = np.add.reduceat(np.add.reduceat(hits, sample_rows, axis=0), sample_cols, axis=1)
        take = holds & (counts < best)
        out[take] = value
        best[take] = counts[take]
    return out


def _one_hot(mask: np.ndarray) -> np.ndarray:
    """Bit ``v - 1`` set for value ``v`` (0 for 0): shifts in place when a byte holds them."""
    if int(mask.max()) > NARROW_VALUES:
        return _VALUE_BITS[mask]
    bits = np.empty_like(mask)
    np.left_shift(np.uint8(1), mask, out=bits)
    np.right_shift(bits, 1, out=bits)
    return bits


def _or_rows(onehot: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Bitwise-or of row blocks, eight bytes at a time when the rows allow it."""
    row_bytes = onehot.shape[1] * onehot.itemsize
    if row_bytes % _WORD.itemsize == 0 and onehot.flags.c_contiguous:
        packed = np.bitwise_or.reduceat(onehot.view(_WORD), starts, axis=0)
        return packed.view(onehot.dtype)
    return np.bitwise_or.reduceat(onehot, starts, axis=0)


def _shortest(row_starts: np.ndarray, height: int, col_starts: np.ndarray, width: int) -> int:
    """The shortest side of any block."""
    rows = np.diff(np.append(row_starts, height))
    cols = np.diff(np.append(col_starts, width))
    return int(min(rows.min(), cols.min()))


def class_colour(colours: tuple[RGB, ...], number: int) -> RGB:
    """The colour of foreground class ``number`` (1-based), cycling through ``colours``."""
    return colours[(number - 1) % len(colours)]


def blend_classes(
    out: np.ndarray,
    values: np.ndarray,
    colours: dict[int, RGB],
    opacity: float,
) -> None:
    """Blend ``colours[v]`` over ``out`` (float HxWx3) where ``values`` == v, in place."""
    if opacity <= 0.0:
        return
    for value, colour in colours.items():
        where = values == value
        if where.any():
            pixels = out[where]
            out[where] = pixels * (1.0 - opacity) + np.asarray(colour, np.float32) * opacity
