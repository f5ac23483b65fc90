"""Sixel images: a palette of at most 256 colours, then bands six pixel rows high.

A pixel left out (index -1) is transparent (``P2=1``): the terminal keeps what it showed
there, so an update sends only the pixels that changed. Sixel colours are percentages, so
a channel shows one of 101 levels (:func:`shown_colours`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from rptui.tui.graphics.escapes import ESC, STRING_TERMINATOR
from rptui.tui.graphics.sixel_overpaint import (
    OVERPAINT_COLOURS,
    Items,
    overpainted_items,
    plain_items,
)

MAX_COLOURS = 256
BAND = 6
TRANSPARENT = -1
_SIXEL_ZERO = 63  # "?": no pixel of the band set


def percent(rgb: np.ndarray) -> np.ndarray:
    """Channels 0..255 as the percentages a Sixel colour register takes."""
    return np.rint(rgb.astype(np.float64) * 100 / 255).astype(np.int64)


def shown_colours(rgb: np.ndarray) -> np.ndarray:
    """The colours a terminal shows for ``rgb`` after the round trip through percentages."""
    return np.rint(percent(rgb) * 255 / 100).astype(np.uint8)


def palette_indices(
    pixels: np.ndarray, drawn: np.ndarray, colours: int = MAX_COLOURS
) -> tuple[np.ndarray, np.ndarray]:
    """A palette for the drawn pixels and each pixel's index in it (-1 where not drawn).

    The palette is exact when the drawn pixels hold at most ``colours`` colours, else a
    median-cut quantisation of them (the best of Pillow's for photographs), not dithered.

    Args:
        pixels: (H, W, 3) uint8.
        drawn: (H, W) bool, the pixels to draw.
        colours: at most this many (at most 256).

    Returns:
        (palette (K, 3) uint8, indices (H, W) int16).
    """
    indices = np.full(drawn.shape, TRANSPARENT, np.int16)
    chosen = np.ascontiguousarray(pixels[drawn])
    if chosen.size == 0:
        return np.zeros((0, 3), np.uint8), indices
    row = Image.fromarray(chosen[None, :, :])
    counted = row.getcolors(colours)
    if counted is not None:  # few colours: exact
        palette = np.asarray(sorted(colour for _, colour in counted), np.uint8).reshape(-1, 3)
        keys = _packed(palette)
        indices[drawn] = np.searchsorted(keys, _packed(chosen)).astype(np.int16)
        return palette, indices
    quantised = row.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    flat = quantised.getpalette() or []
    palette = np.asarray(flat[: 3 * colours], np.uint8).reshape(-1, 3)
    indices[drawn] = np.asarray(quantised, np.int16)[0]
    return palette, indices


def _packed(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 colours as 24-bit integers (sorted palettes sort the same way)."""
    wide = rgb.astype(np.int32)
    return (wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]


def encode(indices: np.ndarray, palette: np.ndarray, *, overpaint: bool = True) -> str:
    """A Sixel image of palette ``indices`` (H, W; -1 transparent) drawn at the text cursor.

    Built with array operations (a full 1600x900 frame in about a tenth of a second): each
    band lists, per colour, the sixels from the band's left edge to the colour's last
    pixel, four or more equal sixels (transparent gaps included) written as a repeat. A
    picture of few colours paints colours over pixels drawn later (:mod:`.sixel_overpaint`)
    unless ``overpaint`` is False.
    """
    height, width = indices.shape
    used = np.unique(indices[indices >= 0])
    levels = percent(palette[used]) if used.size else np.zeros((0, 3), np.int64)
    header = f'{ESC}P0;1;0q"1;1;{width};{height}' + "".join(
        f"#{n};2;{r};{g};{b}" for n, (r, g, b) in zip(used.tolist(), levels.tolist(), strict=True)
    )
    cells = _cells(indices, len(palette))
    few = overpaint and used.size <= OVERPAINT_COLOURS
    items = overpainted_items(indices, BAND, cells) if few else plain_items(*cells)
    return header + _runs_to_text(items).decode("ascii") + STRING_TERMINATOR


def _cells(
    indices: np.ndarray, colours: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every non-empty sixel as (band, colour, x, bits), ordered by band, colour and x."""
    width = indices.shape[1]
    ys, xs = np.nonzero(indices >= 0)
    colour = indices[ys, xs].astype(np.int64)
    keys = ((ys // BAND).astype(np.int64) * max(colours, 1) + colour) * width + xs
    cells, where = np.unique(keys, return_inverse=True)
    bits = np.bincount(where.reshape(-1), weights=1 << (ys % BAND)).astype(np.int64)
    rows, x = np.divmod(cells, width)
    band, colour = np.divmod(rows, max(colours, 1))
    return band, colour, x, bits


def _runs_to_text(items: Items) -> bytes:
    """The bands' text: per run of equal sixels a separator, colour, gap and the run."""
    band, row, colour, x, sixel, length = items
    if band.size == 0:
        return b""
    new_row = np.ones(band.size, bool)
    new_row[1:] = (band[1:] != band[:-1]) | (row[1:] != row[:-1])
    starts = new_row.copy()
    starts[1:] |= (x[1:] != x[:-1] + length[:-1]) | (sixel[1:] != sixel[:-1])
    first = np.flatnonzero(starts)
    length = np.add.reduceat(length, first)
    run_band, run_colour, run_x, run_sixel = band[first], colour[first], x[first], sixel[first]
    row_first = new_row[first]
    previous_end = np.zeros(first.size, np.int64)
    previous_end[1:] = run_x[:-1] + length[:-1]
    gap = np.where(row_first, run_x, run_x - previous_end)
    band_before = np.zeros(first.size, np.int64)
    band_before[1:] = run_band[:-1]
    dashes = np.where(row_first, run_band - band_before, 0)
    separator_char = np.where(dashes > 0, ord("-"), ord("$"))
    separator_count = np.where(row_first, np.maximum(dashes, 1), 0)
    separator_count[0] = dashes[0]  # nothing before the first colour but empty bands
    tokens = _Tokens(first.size)
    tokens.repeat(0, separator_char, separator_count)
    tokens.number(1, row_first, ord("#"), run_colour)
    tokens.run(2, ord("?") * np.ones(first.size, np.int64), gap)
    tokens.run(3, run_sixel + _SIXEL_ZERO, length)
    return tokens.text()


class _Tokens:
    """Four token slots per run, filled column by column, written out with array operations.

    A slot holds a repeated character (``count`` times, maybe none) or a number token: a
    marker, the decimal number and maybe a trailing character (``#12``, ``!40?``).
    """

    SLOTS = 4

    def __init__(self, runs: int) -> None:
        shape = (runs, self.SLOTS)
        self.is_number = np.zeros(shape, bool)
        self.char = np.zeros(shape, np.int64)
        self.count = np.zeros(shape, np.int64)  # repeats, or the number
        self.marker = np.zeros(shape, np.int64)
        self.trail = np.zeros(shape, np.int64)  # 0: none

    def repeat(self, slot: int, char: np.ndarray, count: np.ndarray) -> None:
        """``char`` written ``count`` times."""
        self.char[:, slot], self.count[:, slot] = char, count

    def number(self, slot: int, where: np.ndarray, marker: int, value: np.ndarray) -> None:
        """Where ``where``: ``marker`` then ``value`` in decimal."""
        self.is_number[:, slot] = where
        self.marker[where, slot], self.count[where, slot] = marker, value[where]

    def run(self, slot: int, char: np.ndarray, count: np.ndarray) -> None:
        """``count`` times ``char``: written out when short, else as a repeat ``!<n><char>``."""
        self.repeat(slot, char, count)
        long = count > 3
        self.is_number[:, slot] = long
        self.marker[long, slot], self.trail[long, slot] = ord("!"), char[long]

    def text(self) -> bytes:
        number, count = self.is_number.ravel(), self.count.ravel()
        digits = _digits(count)
        size = np.where(number, 1 + digits + (self.trail.ravel() > 0), count)
        offset = np.cumsum(size) - size
        out = np.empty(int(size.sum()), np.uint8)
        plain = ~number
        times = count[plain]
        starts = np.repeat(offset[plain], times)
        within = np.arange(times.sum()) - np.repeat(np.cumsum(times) - times, times)
        out[starts + within] = np.repeat(self.char.ravel()[plain], times)
        at, value, width = offset[number], count[number], digits[number]
        out[at] = self.marker.ravel()[number]
        for place in range(int(width.max(initial=0))):
            has = place < width
            power = 10 ** (width[has] - 1 - place)
            out[at[has] + 1 + place] = ord("0") + (value[has] // power) % 10
        trail = self.trail.ravel()[number]
        ends = trail > 0
        out[(at + 1 + width)[ends]] = trail[ends]
        return out.tobytes()


def _digits(values: np.ndarray) -> np.ndarray:
    """Decimal digits of each non-negative value (1 for 0)."""
    digits = np.ones(values.shape, np.int64)
    for power in (10, 100, 1_000, 10_000, 100_000, 1_000_000):
        digits += values >= power
    return digits
