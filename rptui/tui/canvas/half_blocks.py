"""Two view rows to one terminal line of half blocks, with cached styles.

Each cell shows two pixels stacked: "▀" with the upper pixel as foreground colour and
the lower as background, or a plain space where both are equal (fewer bytes). Runs of
equal cells share one segment, and styles are cached by colour pair, so a redrawn line
costs little and repeats the same escape sequences.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

UPPER_HALF = "▀"
FULL_CELL = " "  # both pixels equal: background colour only, fewer bytes
MAX_CACHED_STYLES = 65_536


def pack_rgb(rows: np.ndarray) -> np.ndarray:
    """RGB rows (..., 3) uint8 as 24-bit integers."""
    r = rows.astype(np.int64)
    return (r[..., 0] << 16) | (r[..., 1] << 8) | r[..., 2]


def equal_runs(line: np.ndarray) -> Iterable[tuple[int, int]]:
    """(start, stop) of runs of equal values."""
    cuts = np.flatnonzero(line[1:] != line[:-1]) + 1
    edges = [0, *cuts.tolist(), len(line)]
    return itertools.pairwise(edges)


class HalfBlocks:
    """Turns pairs of RGB view rows into Strips, caching styles and colours (bounded)."""

    def __init__(self) -> None:
        self._styles: dict[tuple[int, int], Style] = {}
        self._colours: dict[int, Color] = {}

    def strip(self, top: np.ndarray, bottom: np.ndarray) -> Strip:
        """One terminal line from an upper and a lower row of RGB pixels."""
        upper, lower = pack_rgb(top), pack_rgb(bottom)
        keys = (upper << 24) | lower
        segments = [
            Segment(
                (FULL_CELL if upper[a] == lower[a] else UPPER_HALF) * (b - a),
                self._style(int(upper[a]), int(lower[a])),
            )
            for a, b in equal_runs(keys)
        ]
        return Strip(segments, len(keys))

    def _style(self, upper: int, lower: int) -> Style:
        key = (upper, lower)
        style = self._styles.get(key)
        if style is None:
            if len(self._styles) >= MAX_CACHED_STYLES:  # noisy images: keep memory bounded
                self._styles.clear()
            bg = self._colour(lower)
            style = Style.from_color(None if upper == lower else self._colour(upper), bg)
            self._styles[key] = style
        return style

    def _colour(self, packed: int) -> Color:
        colour = self._colours.get(packed)
        if colour is None:
            if len(self._colours) >= MAX_CACHED_STYLES:
                self._colours.clear()
            colour = Color.from_rgb(packed >> 16, (packed >> 8) & 0xFF, packed & 0xFF)
            self._colours[packed] = colour
        return colour
