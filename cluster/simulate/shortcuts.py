"""The annotate screen's one-key edits, for planning what a keyboard user does.

``x`` labels background the 8-connected component of the shown prediction under the
cursor, overwriting whatever labels it had; ``r`` marks a corner and a second ``r``
fills the rectangle between the two marks (both included) with the current brush's
class. A mouse user of RootPainter has neither, so plans carry these as keyboard
alternatives to a group's strokes (see :class:`cluster.simulate.strokes.AnnotationPlan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND

ShortcutKind = Literal["region", "box"]
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
BOX_BLOCK = 8  # px: the grid on which candidate boxes are searched before growing them
MIN_BOX_PIXELS = 1024  # smaller boxes are left to the brush
MAX_BOXES = 8  # boxes per filled area


@dataclass(frozen=True)
class Shortcut:
    """A keyboard-only edit: ``x`` on a predicted region, or a box filled by ``r`` ``r``.

    ``points`` is the cursor position for "region" (1, 2) or the two corners for "box"
    (2, 2); ``reach`` is how far (px) the cursor may land from a point and still work.
    """

    kind: ShortcutKind
    label: int
    points: np.ndarray
    group: int = 0
    reach: int = 0

    def __post_init__(self) -> None:
        want = {"region": (1, 2), "box": (2, 2)}.get(self.kind)
        if want is None:
            raise ValueError(f"shortcut kind must be 'region' or 'box', got {self.kind!r}")
        if self.points.shape != want:
            raise ValueError(f"{self.kind} shortcut needs points of shape {want}")
        if self.label not in (FOREGROUND, BACKGROUND):
            raise ValueError(f"shortcut label must be FOREGROUND or BACKGROUND, got {self.label}")
        if self.kind == "region" and self.label != BACKGROUND:
            raise ValueError("`x` always paints background")


def predicted_region(predicted: np.ndarray, y: int, x: int) -> np.ndarray | None:
    """The pixels ``x`` paints with the cursor at (y, x): None where nothing is predicted."""
    shown = np.asarray(predicted) > 0
    if not shown[y, x]:
        return None
    components, _ = ndimage.label(shown, structure=EIGHT_CONNECTED)
    return components == components[y, x]


def box_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The pixels an ``r`` ``r`` box fill with corners ``points`` paints, clipped to ``shape``."""
    (y0, x0), (y1, x1) = np.asarray(points, dtype=np.int64).tolist()
    out = np.zeros(shape, dtype=bool)
    out[max(min(y0, y1), 0) : max(y0, y1) + 1, max(min(x0, x1), 0) : max(x0, x1) + 1] = True
    return out


def apply_shortcut(
    labels: np.ndarray, shortcut: Shortcut, *, predicted: np.ndarray | None = None
) -> np.ndarray:
    """A new label image with ``shortcut`` applied (``predicted`` is needed for "region")."""
    out = np.array(labels, dtype=np.uint8, copy=True)
    if shortcut.kind == "box":
        out[box_mask(shortcut.points, out.shape)] = shortcut.label
        return out
    if predicted is None:
        raise ValueError("a region shortcut needs the prediction it was planned on")
    y, x = (int(v) for v in shortcut.points[0])
    region = predicted_region(predicted, y, x)
    if region is not None:
        out[region] = shortcut.label
    return out


def region_point(region: np.ndarray, region_depth: np.ndarray) -> tuple[np.ndarray, int]:
    """The easiest pixel of ``region`` to land on (its deepest) and the landing slack."""
    local = np.where(region, region_depth, 0.0)
    y, x = np.unravel_index(int(np.argmax(local)), region.shape)
    return np.array([[y, x]], dtype=np.int32), max(0, int(np.ceil(local[y, x])) - 1)


def _largest_rectangle(grid: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) exclusive of the largest all-True rectangle of ``grid``."""
    best, best_area = None, 0
    heights = np.zeros(grid.shape[1] + 1, dtype=np.int64)  # a zero sentinel at the end
    for row in range(grid.shape[0]):
        heights[:-1] = np.where(grid[row], heights[:-1] + 1, 0)
        stack: list[int] = []
        for col, height in enumerate(heights.tolist()):
            while stack and heights[stack[-1]] >= height:
                top = stack.pop()
                start = stack[-1] + 1 if stack else 0
                area = int(heights[top]) * (col - start)
                if area > best_area:
                    best_area = area
                    best = (row + 1 - int(heights[top]), start, row + 1, col)
            stack.append(col)
    return best


def _grow(free: np.ndarray, box: list[int]) -> list[int]:
    """Grow ``box`` [top, left, bottom, right) side by side while the new strip is all free."""
    height, width = free.shape
    grown = True
    while grown:
        grown = False
        top, left, bottom, right = box
        if top > 0 and free[top - 1, left:right].all():
            box[0], grown = top - 1, True
        if bottom < height and free[bottom, left:right].all():
            box[2], grown = bottom + 1, True
        top, bottom = box[0], box[2]
        if left > 0 and free[top:bottom, left - 1].all():
            box[1], grown = left - 1, True
        if right < width and free[top:bottom, right].all():
            box[3], grown = right + 1, True
    return box


def fill_boxes(
    area: np.ndarray,
    *,
    block: int = BOX_BLOCK,
    min_pixels: int = MIN_BOX_PIXELS,
    max_boxes: int = MAX_BOXES,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Large non-overlapping rectangles inside ``area``, largest first.

    Returns:
        ((2, 2) int32 corner pairs for ``r`` ``r``, H x W boolean of the pixels they fill).
    """
    free = np.asarray(area, dtype=bool).copy()
    filled = np.zeros(free.shape, dtype=bool)
    corners: list[np.ndarray] = []
    rows, cols = free.shape[0] // block, free.shape[1] // block
    while len(corners) < max_boxes and rows and cols:
        blocks = free[: rows * block, : cols * block].reshape(rows, block, cols, block)
        found = _largest_rectangle(blocks.all(axis=(1, 3)))
        if found is None:
            break
        top, left, bottom, right = _grow(free, [v * block for v in found])
        if (bottom - top) * (right - left) < min_pixels:
            break
        free[top:bottom, left:right] = False
        filled[top:bottom, left:right] = True
        corners.append(np.array([[top, left], [bottom - 1, right - 1]], dtype=np.int32))
    return corners, filled
