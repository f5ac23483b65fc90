"""The annotation canvas: a keyboard-driven image view on Textual's line API.

Each terminal cell shows two view pixels stacked ("▀": foreground colour = upper pixel,
background colour = lower pixel). The rendered view is kept as an array; rows become
Strips with cached styles, and only the lines that change are redrawn.

The canvas never paints: it shows the cursor and brush, and posts
:class:`AnnotationCanvas.CursorMoved` (with ``pen_down``) and, for mouse clicks and
drags, :class:`AnnotationCanvas.PaintRequested`. The screen paints into its annotation
and calls :meth:`AnnotationCanvas.mark_dirty` with the changed box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from rptui.tui.half_blocks import HalfBlocks
from rptui.tui.render import (
    DEFAULT_PALETTE,
    PALETTES,
    RGB,
    Palette,
    Viewport,
    as_rgb8,
    quantise,
    render_view,
)

DEFAULT_COLOUR_BITS = 5
DEFAULT_BRUSH_RADIUS = 4
PAN_FRACTION = 0.25  # of the view per pan step
ImageBox = tuple[int, int, int, int]  # y0, x0, y1, x1 (half-open, image pixels)


class LabelsSource(Protocol):
    """Anything holding an HxW uint8 label image (e.g. ``rptui.annotation.Annotation``)."""

    labels: np.ndarray


def box_bounds(box: Any) -> ImageBox:
    """(y0, x0, y1, x1) of a box given as a 4-tuple or an object with those attributes."""
    if all(hasattr(box, name) for name in ("y0", "x0", "y1", "x1")):
        return int(box.y0), int(box.x0), int(box.y1), int(box.x1)
    y0, x0, y1, x1 = box
    return int(y0), int(x0), int(y1), int(x1)


class AnnotationCanvas(Widget, can_focus=True):
    """Shows an image with segmentation and annotation overlays, a cursor and a brush ring."""

    DEFAULT_CSS = """
    AnnotationCanvas {
        width: 1fr;
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1, 0)", "Up", show=False, id="canvas.cursor_up"),
        Binding("down,j", "move(1, 0)", "Down", show=False, id="canvas.cursor_down"),
        Binding("left,h", "move(0, -1)", "Left", show=False, id="canvas.cursor_left"),
        Binding("right,l", "move(0, 1)", "Right", show=False, id="canvas.cursor_right"),
        Binding("shift+up", "pan(-1, 0)", "Pan up", show=False, id="canvas.pan_up"),
        Binding("shift+down", "pan(1, 0)", "Pan down", show=False, id="canvas.pan_down"),
        Binding("shift+left", "pan(0, -1)", "Pan left", show=False, id="canvas.pan_left"),
        Binding("shift+right", "pan(0, 1)", "Pan right", show=False, id="canvas.pan_right"),
        Binding("plus,equals_sign", "zoom_in", "Zoom in", key_display="+", id="canvas.zoom_in"),
        Binding("minus", "zoom_out", "Zoom out", key_display="-", id="canvas.zoom_out"),
        Binding("f", "fit", "Fit", id="canvas.fit"),
        Binding("a", "toggle_annotation", "Annotation", id="canvas.toggle_annotation"),
        Binding("i", "toggle_image", "Image", id="canvas.toggle_image"),
        Binding("s", "toggle_segmentation", "Segmentation", id="canvas.toggle_segmentation"),
    ]

    class CursorMoved(Message):
        """The cursor moved from ``previous`` to ``position`` (image pixels)."""

        def __init__(
            self,
            canvas: AnnotationCanvas,
            previous: tuple[int, int],
            position: tuple[int, int],
            pen_down: bool,
        ) -> None:
            super().__init__()
            self.canvas = canvas
            self.previous = previous
            self.position = position
            self.pen_down = pen_down

        @property
        def control(self) -> AnnotationCanvas:
            """The canvas that sent the message."""
            return self.canvas

    class PaintRequested(Message):
        """The mouse asks to paint along ``points`` (image pixels) with the current brush."""

        def __init__(self, canvas: AnnotationCanvas, points: list[tuple[int, int]]) -> None:
            super().__init__()
            self.canvas = canvas
            self.points = points

        @property
        def control(self) -> AnnotationCanvas:
            """The canvas that sent the message."""
            return self.canvas

    def __init__(
        self,
        *,
        palette: Palette = DEFAULT_PALETTE,
        colour_bits: int = DEFAULT_COLOUR_BITS,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.palette = palette
        self.colour_bits = colour_bits
        self.show_image = True
        self.show_segmentation = True
        self.show_annotation = True
        self.seg_opacity = 0.45
        self.ann_opacity = 0.6
        self.brush_radius = DEFAULT_BRUSH_RADIUS
        self.brush_value = FOREGROUND
        self.pen_down = False
        self.viewport: Viewport | None = None
        self._image: np.ndarray | None = None
        self._segmentation: np.ndarray | None = None
        self._labels_source: LabelsSource | np.ndarray | None = None
        self._cursor = (0, 0)
        self._fitted = True
        self._view: np.ndarray | None = None  # quantised (view_h, view_w, 3) without cursor
        self._strips: dict[int, Strip] = {}
        self._overlay: dict[int, list[tuple[int, int, RGB]]] | None = None
        self._half_blocks = HalfBlocks()
        self._dragging = False

    # ----- state the screen sets -------------------------------------------------------

    def set_image(
        self,
        image: np.ndarray,
        *,
        segmentation: np.ndarray | None = None,
        labels_source: LabelsSource | np.ndarray | None = None,
        stretch: bool = False,
    ) -> None:
        """Show a new image (any dtype/channels; ``stretch`` for dim or 16-bit ones), fitted."""
        self._image = as_rgb8(image, stretch=stretch)
        self._segmentation = segmentation
        self._labels_source = labels_source
        h, w = self._image.shape[:2]
        self._cursor = (h // 2, w // 2)
        view_h, view_w = self._view_size()
        self.viewport = Viewport.fitted(h, w, view_h, view_w)
        self._fitted = True
        self._invalidate()

    def set_segmentation(self, mask: np.ndarray | None) -> None:
        """Replace the segmentation overlay (HxW, nonzero = foreground), or remove it."""
        self._segmentation = mask
        self._invalidate()

    def set_labels_source(self, source: LabelsSource | np.ndarray | None) -> None:
        """Draw annotation labels from ``source`` (an object with ``.labels``, or an array)."""
        self._labels_source = source
        self._invalidate()

    def set_palette(self, palette: Palette | str) -> None:
        """Use another palette (a :class:`Palette` or a name in ``PALETTES``)."""
        self.palette = PALETTES[palette] if isinstance(palette, str) else palette
        self._invalidate()

    def set_opacity(
        self, *, segmentation: float | None = None, annotation: float | None = None
    ) -> None:
        """Overlay opacities in 0..1."""
        if segmentation is not None:
            self.seg_opacity = min(max(segmentation, 0.0), 1.0)
        if annotation is not None:
            self.ann_opacity = min(max(annotation, 0.0), 1.0)
        self._invalidate()

    def set_brush(
        self, *, radius: int | None = None, value: int | None = None, pen_down: bool | None = None
    ) -> None:
        """Brush radius (image pixels), value (FOREGROUND/BACKGROUND/UNLABELLED), pen state."""
        before = self._cursor_lines()
        if radius is not None:
            self.brush_radius = max(0, int(radius))
        if value is not None:
            self.brush_value = value
        if pen_down is not None:
            self.pen_down = pen_down
        self._overlay = None
        self._refresh_lines(before | self._cursor_lines())

    @property
    def labels(self) -> np.ndarray | None:
        """The label image being drawn, if any."""
        source = self._labels_source
        if source is None or isinstance(source, np.ndarray):
            return source
        return source.labels

    @property
    def cursor_image_position(self) -> tuple[int, int]:
        """The cursor in image pixels (y, x)."""
        return self._cursor

    @property
    def cursor_step(self) -> int:
        """Image pixels per cursor step: one view pixel, at least one image pixel."""
        scale = self.viewport.scale if self.viewport is not None else 1.0
        return max(1, round(scale))

    # ----- navigation ------------------------------------------------------------------

    def move_cursor(self, dy: int, dx: int) -> None:
        """Move the cursor by (dy, dx) steps (see ``cursor_step``)."""
        step = self.cursor_step
        y, x = self._cursor
        self.set_cursor(y + dy * step, x + dx * step)

    def set_cursor(self, y: int, x: int) -> None:
        """Put the cursor on image pixel (y, x) (clamped), scrolling the view if needed."""
        if self._image is None or self.viewport is None:
            return
        h, w = self._image.shape[:2]
        new = (min(max(int(y), 0), h - 1), min(max(int(x), 0), w - 1))
        previous = self._cursor
        if new == previous:
            return
        before = self._cursor_lines()
        self._cursor = new
        self._overlay = None
        if self._cursor_in_view():
            self._refresh_lines(before | self._cursor_lines())
        else:
            self.viewport.place(new[0] + 0.5, new[1] + 0.5, *self._view_centre())
            self._fitted = False
            self._invalidate()
        self.post_message(self.CursorMoved(self, previous, new, self.pen_down))

    def zoom_in(self) -> None:
        """Magnify around the cursor."""
        if self.viewport is not None:
            self.viewport.zoom_in(self._cursor)
            self._after_view_change()

    def zoom_out(self) -> None:
        """Zoom out around the cursor (no farther than the whole image)."""
        if self.viewport is not None:
            self.viewport.zoom_out(self._cursor)
            self._after_view_change()

    def fit(self) -> None:
        """Show the whole image."""
        if self.viewport is not None:
            self.viewport.fit()
            self._fitted = True
            self._invalidate()

    def pan(self, dy: int, dx: int) -> None:
        """Pan by (dy, dx) quarter views; the cursor keeps its place on the screen.

        The cursor moves with the image; its ``CursorMoved`` says ``pen_down=False`` so that
        a pan never paints.
        """
        if self.viewport is None or self._image is None:
            return
        vp = self.viewport
        before_y, before_x = vp.origin_y, vp.origin_x
        vp.pan(dy * vp.view_h * PAN_FRACTION, dx * vp.view_w * PAN_FRACTION)
        shift_y = round(vp.origin_y - before_y)
        shift_x = round(vp.origin_x - before_x)
        self._fitted = False
        if shift_y or shift_x:
            h, w = self._image.shape[:2]
            previous = y, x = self._cursor
            self._cursor = (min(max(y + shift_y, 0), h - 1), min(max(x + shift_x, 0), w - 1))
            self._invalidate()
            self.post_message(self.CursorMoved(self, previous, self._cursor, pen_down=False))

    def toggle_image(self) -> None:
        """Show or hide the image under the overlays."""
        self.show_image = not self.show_image
        self._invalidate()

    def toggle_segmentation(self) -> None:
        """Show or hide the segmentation overlay."""
        self.show_segmentation = not self.show_segmentation
        self._invalidate()

    def toggle_annotation(self) -> None:
        """Show or hide the annotation overlay."""
        self.show_annotation = not self.show_annotation
        self._invalidate()

    # ----- redraws ---------------------------------------------------------------------

    def view_box_for(self, box: Any) -> tuple[int, int, int, int] | None:
        """Cell lines and columns (line0, col0, line1, col1) showing an image box, or None."""
        if self.viewport is None:
            return None
        y0, x0, y1, x1 = box_bounds(box)
        if y1 <= y0 or x1 <= x0:
            return None
        r0, r1 = self.viewport.view_rows_for(y0, y1)
        c0, c1 = self.viewport.view_cols_for(x0, x1)
        if r1 <= r0 or c1 <= c0:
            return None
        return r0 // 2, c0, (r1 + 1) // 2, c1

    def mark_dirty(self, box: Any) -> None:
        """Redraw the lines showing an image box (y0, x0, y1, x1) after painting into it."""
        if box is None or self.viewport is None:
            return
        cells = self.view_box_for(box)
        if cells is None:
            return
        if self._view is None:
            self.refresh()
            return
        line0, _, line1, _ = cells
        band = (2 * line0, min(2 * line1, self.viewport.view_h))
        self._view[band[0] : band[1]] = self._render(rows=band)
        self._refresh_lines(set(range(line0, line1)))

    def _after_view_change(self) -> None:
        self._fitted = False
        if self.viewport is not None and not self._cursor_in_view():
            self.viewport.place(self._cursor[0] + 0.5, self._cursor[1] + 0.5, *self._view_centre())
        self._overlay = None
        self._invalidate()

    def _invalidate(self) -> None:
        self._view = None
        self._strips.clear()
        self._overlay = None
        self.refresh()

    def _refresh_lines(self, lines: set[int]) -> None:
        """Forget and repaint only the given cell lines."""
        if not lines:
            return
        for line in lines:
            self._strips.pop(line, None)
        width = self.size.width
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
        self.refresh(*regions)

    def _view_size(self) -> tuple[int, int]:
        return max(2 * self.size.height, 2), max(self.size.width, 1)

    def _view_centre(self) -> tuple[float, float]:
        view_h, view_w = self._view_size()
        return view_h / 2, view_w / 2

    def on_resize(self, event: events.Resize) -> None:
        """Keep the view in step with the widget's size."""
        if self.viewport is None:
            return
        view_h, view_w = self._view_size()
        self.viewport.resize(view_h, view_w)
        if self._fitted:
            self.viewport.fit()
        self._invalidate()

    def _render(self, rows: tuple[int, int] | None = None) -> np.ndarray:
        assert self._image is not None and self.viewport is not None
        view = render_view(
            self._image,
            self.viewport,
            segmentation=self._segmentation,
            labels=self.labels,
            show_image=self.show_image,
            show_segmentation=self.show_segmentation,
            show_annotation=self.show_annotation,
            seg_opacity=self.seg_opacity,
            ann_opacity=self.ann_opacity,
            palette=self.palette,
            rows=rows,
        )
        return quantise(view, self.colour_bits)

    def rendered_view(self) -> np.ndarray | None:
        """The current view as (2 * lines, width, 3) uint8 without the cursor, rendering it."""
        if self._image is None or self.viewport is None:
            return None
        if (self.viewport.view_h, self.viewport.view_w) != self._view_size():
            self.viewport.resize(*self._view_size())
            if self._fitted:
                self.viewport.fit()
            self._view = None
            self._strips.clear()
        if self._view is None:
            self._view = self._render()
            self._strips.clear()
        return self._view

    # ----- cursor ----------------------------------------------------------------------

    def _cursor_in_view(self) -> bool:
        assert self.viewport is not None
        vy, vx = self.viewport.image_to_view(*self._cursor)
        return 0 <= vy < self.viewport.view_h and 0 <= vx < self.viewport.view_w

    def _brush_colour(self) -> RGB:
        if self.brush_value == FOREGROUND:
            return self.palette.foreground
        if self.brush_value == BACKGROUND:
            return self.palette.background
        return self.palette.cursor

    def _cursor_overlay(self) -> dict[int, list[tuple[int, int, RGB]]]:
        """Cursor pixels by cell line: (view_y, view_x, colour); a ring shows the brush."""
        if self._overlay is not None:
            return self._overlay
        overlay: dict[int, list[tuple[int, int, RGB]]] = {}
        vp = self.viewport
        if vp is None or self._image is None:
            return overlay
        cy, cx = vp.image_to_view(*self._cursor)
        radius = self.brush_radius / vp.scale
        pixels: list[tuple[int, int, RGB]] = []
        if radius >= 1.5:
            ring = self._brush_colour() if self.brush_value != UNLABELLED else self.palette.cursor
            pixels.extend((y, x, ring) for y, x in _ring(cy, cx, radius, vp.view_h, vp.view_w))
        centre = self._brush_colour() if self.pen_down else self.palette.cursor
        pixels.append((cy, cx, centre))
        for y, x, colour in pixels:
            if 0 <= y < vp.view_h and 0 <= x < vp.view_w:
                overlay.setdefault(y // 2, []).append((y, x, colour))
        self._overlay = overlay
        return overlay

    def _cursor_lines(self) -> set[int]:
        return set(self._cursor_overlay())

    # ----- line API --------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """One cell line: two view rows as half blocks."""
        width = self.size.width
        view = self.rendered_view()
        if view is None or 2 * y >= view.shape[0]:
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(y)
        if strip is None:
            strip = self._strips[y] = self._build_strip(view, y)
        return strip

    def _build_strip(self, view: np.ndarray, y: int) -> Strip:
        top, bottom = view[2 * y], view[2 * y + 1] if 2 * y + 1 < view.shape[0] else view[2 * y]
        marks = self._cursor_overlay().get(y)
        if marks:
            top, bottom = top.copy(), bottom.copy()
            for vy, vx, colour in marks:
                (top if vy == 2 * y else bottom)[vx] = colour
        return self._half_blocks.strip(top, bottom)

    # ----- actions and mouse -----------------------------------------------------------

    def action_move(self, dy: int, dx: int) -> None:
        """Move the cursor one step."""
        self.move_cursor(dy, dx)

    action_pan = pan
    action_zoom_in = zoom_in
    action_zoom_out = zoom_out
    action_fit = fit
    action_toggle_image = toggle_image
    action_toggle_segmentation = toggle_segmentation
    action_toggle_annotation = toggle_annotation

    def _image_at_cell(self, x: int, y: int) -> tuple[int, int] | None:
        if self.viewport is None or self._image is None:
            return None
        iy, ix = self.viewport.view_to_image(2 * y, x)
        h, w = self._image.shape[:2]
        if not (0 <= iy < h and 0 <= ix < w):
            return None
        return iy, ix

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """A left click moves the cursor there and asks to paint a point."""
        target = self._image_at_cell(event.x, event.y)
        if target is None or event.button != 1:
            return
        self._dragging = True
        self.capture_mouse()
        self.set_cursor(*target)
        self.post_message(self.PaintRequested(self, [target]))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Dragging paints a stroke from the last cursor position."""
        if not self._dragging:
            return
        target = self._image_at_cell(event.x, event.y)
        if target is None or target == self._cursor:
            return
        previous = self._cursor
        self.set_cursor(*target)
        self.post_message(self.PaintRequested(self, [previous, target]))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        """End a drag."""
        if self._dragging:
            self._dragging = False
            self.release_mouse()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up zooms in."""
        self.zoom_in()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Wheel down zooms out."""
        self.zoom_out()


def _ring(cy: int, cx: int, radius: float, view_h: int, view_w: int) -> Sequence[tuple[int, int]]:
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
