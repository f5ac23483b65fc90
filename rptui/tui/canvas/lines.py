"""Line bookkeeping for the canvas: image boxes to cell lines, dirty lines to regions, strips."""

from __future__ import annotations

from typing import Any

import numpy as np
from textual.geometry import Region
from textual.strip import Strip

from rptui.tui.canvas.half_blocks import HalfBlocks
from rptui.tui.canvas.palettes import RGB
from rptui.tui.canvas.viewport import Viewport

ImageBox = tuple[int, int, int, int]  # y0, x0, y1, x1 (half-open, image pixels)
CellBox = tuple[int, int, int, int]  # line0, col0, line1, col1 (half-open, terminal cells)


def box_bounds(box: Any) -> ImageBox:
    """(y0, x0, y1, x1) of a box given as a 4-tuple or an object with those attributes."""
    if all(hasattr(box, name) for name in ("y0", "x0", "y1", "x1")):
        return int(box.y0), int(box.x0), int(box.y1), int(box.x1)
    y0, x0, y1, x1 = box
    return int(y0), int(x0), int(y1), int(x1)


def cells_for_box(viewport: Viewport, box: Any, cell: tuple[int, int] = (1, 2)) -> CellBox | None:
    """Cell lines and columns showing an image box, or None when none of it is in view.

    ``cell`` is a cell's (width, height) in view pixels: (1, 2) for half blocks.
    """
    y0, x0, y1, x1 = box_bounds(box)
    if y1 <= y0 or x1 <= x0:
        return None
    r0, r1 = viewport.view_rows_for(y0, y1)
    c0, c1 = viewport.view_cols_for(x0, x1)
    if r1 <= r0 or c1 <= c0:
        return None
    width, height = cell
    return r0 // height, c0 // width, -(-r1 // height), -(-c1 // width)


def line_regions(lines: set[int], width: int) -> list[Region]:
    """Full-width regions covering the given cell lines, one per run of adjacent lines."""
    if not lines:
        return []
    ordered = sorted(lines)
    regions = []
    start = prev = ordered[0]
    for line in [*ordered[1:], None]:
        if line is not None and line == prev + 1:
            prev = line
            continue
        regions.append(Region(0, start, width, prev - start + 1))
        if line is not None:
            start = prev = line
    return regions


def line_strip(
    view: np.ndarray,
    y: int,
    marks: list[tuple[int, int, RGB]] | None,
    half_blocks: HalfBlocks,
) -> Strip:
    """Cell line ``y`` of a rendered view, with cursor ``marks`` (view_y, view_x, colour) on top."""
    top, bottom = view[2 * y], view[2 * y + 1] if 2 * y + 1 < view.shape[0] else view[2 * y]
    if marks:
        top, bottom = top.copy(), bottom.copy()
        for vy, vx, colour in marks:
            (top if vy == 2 * y else bottom)[vx] = colour
    return half_blocks.strip(top, bottom)
