"""What a true-pixel picture is asked to show: the view, the cursor, where, what changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rptui.tui.canvas.layers import ViewLayers
from rptui.tui.canvas.palettes import RGB
from rptui.tui.graphics.escapes import Drawing
from rptui.tui.graphics.support import CellSize

PixelBox = tuple[int, int, int, int]  # y0, x0, y1, x1: device pixels of the view, half-open
CursorPixels = list[tuple[int, int, RGB]]  # (y, x, colour) in view pixels


@dataclass(frozen=True)
class Frame:
    """The canvas now, in device pixels.

    Attributes:
        view: (H, W, 3) uint8, image and overlays without the cursor.
        cursor: the cursor's pixels, drawn over the view.
        origin: the screen cell (row, column) of the view's top-left pixel.
        cell: a cell's size in pixels.
        dirty: the parts of ``view`` that changed since the last frame; None: all of it.
        covered: parts other widgets draw over (a notification): not drawn.
        layers: ``view`` as a photo and a translucent overlay, for terminals that stack
            pictures (Kitty); None: ``view`` is all there is.
    """

    view: np.ndarray
    cursor: CursorPixels
    origin: tuple[int, int]
    cell: CellSize
    dirty: list[PixelBox] | None = None
    covered: list[PixelBox] = field(default_factory=list)
    layers: ViewLayers | None = None

    def cell_at(self, y: int, x: int) -> tuple[int, int, int, int]:
        """(row, column, y offset, x offset) of view pixel (y, x) on the screen."""
        row, y_offset = divmod(y, self.cell.height)
        column, x_offset = divmod(x, self.cell.width)
        return self.origin[0] + row, self.origin[1] + column, y_offset, x_offset


class TerminalPicture(Protocol):
    """The canvas as a terminal picture: draws frames, hides, goes."""

    def draw(self, frame: Frame) -> list[Drawing]:
        """Bring the terminal's picture in step with ``frame``, sending what changed."""
        ...

    def text_written(self, box: PixelBox) -> None:
        """Text was written over these view pixels (it may have erased the picture there)."""
        ...

    def hide(self) -> list[Drawing]:
        """Take the picture off the screen (another screen is shown); the next draw restores it."""
        ...

    def remove(self) -> list[Drawing]:
        """Take the picture off the screen and out of the terminal's memory."""
        ...


def clip_box(box: PixelBox, height: int, width: int) -> PixelBox | None:
    """``box`` clipped to a view of ``height`` x ``width``; None when nothing is left."""
    y0, x0, y1, x1 = max(box[0], 0), max(box[1], 0), min(box[2], height), min(box[3], width)
    return (y0, x0, y1, x1) if y1 > y0 and x1 > x0 else None


def mask_box(mask: np.ndarray) -> PixelBox | None:
    """The smallest box holding every True pixel of ``mask``, or None."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(columns[0]), int(rows[-1]) + 1, int(columns[-1]) + 1


def cursor_box(cursor: CursorPixels) -> PixelBox | None:
    """The smallest box holding the cursor's pixels, or None."""
    if not cursor:
        return None
    ys = [y for y, _, _ in cursor]
    xs = [x for _, x, _ in cursor]
    return min(ys), min(xs), max(ys) + 1, max(xs) + 1


def covered_mask(covered: list[PixelBox], box: PixelBox) -> np.ndarray:
    """Which pixels of ``box`` lie under a covered part."""
    y0, x0, y1, x1 = box
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for cy0, cx0, cy1, cx1 in covered:
        mask[max(cy0 - y0, 0) : max(cy1 - y0, 0), max(cx0 - x0, 0) : max(cx1 - x0, 0)] = True
    return mask
