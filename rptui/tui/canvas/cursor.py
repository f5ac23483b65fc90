"""The cursor and brush preview drawn over the canvas view: which pixels, in which colours."""

from __future__ import annotations

import math

import numpy as np

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from rptui.tui.canvas.palettes import RGB, Palette
from rptui.tui.canvas.render_classes import class_colour
from rptui.tui.canvas.viewport import Viewport
from rptui.tui.graphics.frame import CursorPixels

RING_MIN_RADIUS = 1.5  # view pixels: smaller brushes show only the centre mark
CursorMarks = dict[int, CursorPixels]  # cell line -> its cursor pixels


def brush_colour(value: int, palette: Palette) -> RGB:
    """The colour showing brush ``value`` (a label) in ``palette``; the cursor's for erasing.

    In a multi-class palette label ``k + 1`` (k >= 1) is foreground class k's colour.
    """
    if palette.class_colours and value >= FOREGROUND:
        return class_colour(palette.class_colours, value - 1)
    if value == FOREGROUND:
        return palette.foreground
    if value == BACKGROUND:
        return palette.background
    return palette.cursor


def cursor_pixels(
    viewport: Viewport,
    cursor: tuple[int, int],
    *,
    brush_radius: int,
    brush_value: int,
    pen_down: bool,
    palette: Palette,
    arm: int = 0,
) -> CursorPixels:
    """The cursor's view pixels (view_y, view_x, colour), clipped to the view.

    A ring around the cursor previews the brush; the centre pixel shows the brush colour
    while the pen is down. ``arm`` > 0 adds a cross of that many pixels each way around the
    centre (true-pixel views, where one pixel alone is too small to find).
    """
    cy, cx = viewport.image_to_view(*cursor)
    radius = brush_radius / viewport.scale
    pixels: CursorPixels = []
    if radius >= RING_MIN_RADIUS:
        ring = brush_colour(brush_value, palette) if brush_value != UNLABELLED else palette.cursor
        pixels.extend(
            (y, x, ring) for y, x in ring_pixels(cy, cx, radius, viewport.view_h, viewport.view_w)
        )
    for step in range(1, arm + 1):
        pixels.extend(
            (cy + dy, cx + dx, palette.cursor)
            for dy, dx in ((-step, 0), (step, 0), (0, -step), (0, step))
        )
    centre = brush_colour(brush_value, palette) if pen_down else palette.cursor
    pixels.append((cy, cx, centre))
    return [
        (y, x, colour)
        for y, x, colour in pixels
        if 0 <= y < viewport.view_h and 0 <= x < viewport.view_w
    ]


def marks_by_line(pixels: CursorPixels) -> CursorMarks:
    """Cursor pixels by the half-block cell line (two view rows) they fall on."""
    marks: CursorMarks = {}
    for y, x, colour in pixels:
        marks.setdefault(y // 2, []).append((y, x, colour))
    return marks


def ring_pixels(cy: int, cx: int, radius: float, view_h: int, view_w: int) -> list[tuple[int, int]]:
    """View pixels on a circle of ``radius`` around (cy, cx), clipped to the view."""
    r = math.ceil(radius) + 1
    y0, y1 = max(cy - r, 0), min(cy + r + 1, view_h)
    x0, x1 = max(cx - r, 0), min(cx + r + 1, view_w)
    if y1 <= y0 or x1 <= x0:
        return []
    yy, xx = np.mgrid[y0:y1, x0:x1]
    distance = np.hypot(yy - cy, xx - cx)
    on_ring = np.abs(distance - radius) < 0.5
    return list(zip(yy[on_ring].tolist(), xx[on_ring].tolist(), strict=True))
