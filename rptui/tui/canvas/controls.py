"""Keyboard and mouse control of the canvas: cursor moves, zoom, pan, layer toggles, painting.

:class:`CanvasControls` is a mixin for :class:`rptui.tui.canvas.widget.AnnotationCanvas`; it relies
on the canvas's state (``viewport``, ``_image``, ``_cursor``, ...) and its redraw methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from textual import events
from textual.binding import Binding, BindingType

from rptui.tui.canvas.render import Viewport

if TYPE_CHECKING:
    from rptui.tui.canvas.widget import AnnotationCanvas

PAN_FRACTION = 0.25  # of the view per pan step
CANVAS_BINDINGS: list[BindingType] = [
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


class CanvasControls:
    """Navigation, layer toggles, key actions and mouse painting for the annotation canvas."""

    viewport: Viewport | None
    show_image: bool
    show_segmentation: bool
    show_annotation: bool
    pen_down: bool
    _image: np.ndarray | None
    _cursor: tuple[int, int]
    _fitted: bool
    _dragging: bool

    @property
    def cursor_step(self) -> int:
        """Image pixels per cursor step: one view pixel, at least one image pixel."""
        scale = self.viewport.scale if self.viewport is not None else 1.0
        return max(1, round(scale))

    def move_cursor(self: AnnotationCanvas, dy: int, dx: int) -> None:
        """Move the cursor by (dy, dx) steps (see ``cursor_step``)."""
        step = self.cursor_step
        y, x = self._cursor
        self.set_cursor(y + dy * step, x + dx * step)

    def set_cursor(self: AnnotationCanvas, y: int, x: int) -> None:
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

    def zoom_in(self: AnnotationCanvas) -> None:
        """Magnify around the cursor."""
        if self.viewport is not None:
            self.viewport.zoom_in(self._cursor)
            self._after_view_change()

    def zoom_out(self: AnnotationCanvas) -> None:
        """Zoom out around the cursor (no farther than the whole image)."""
        if self.viewport is not None:
            self.viewport.zoom_out(self._cursor)
            self._after_view_change()

    def fit(self: AnnotationCanvas) -> None:
        """Show the whole image."""
        if self.viewport is not None:
            self.viewport.fit()
            self._fitted = True
            self._invalidate()

    def pan(self: AnnotationCanvas, dy: int, dx: int) -> None:
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

    def _after_view_change(self: AnnotationCanvas) -> None:
        """Keep the cursor in view after a zoom, and redraw."""
        self._fitted = False
        if self.viewport is not None and not self._cursor_in_view():
            self.viewport.place(self._cursor[0] + 0.5, self._cursor[1] + 0.5, *self._view_centre())
        self._overlay = None
        self._invalidate()

    def toggle_image(self: AnnotationCanvas) -> None:
        """Show or hide the image under the overlays."""
        self.show_image = not self.show_image
        self._invalidate()

    def toggle_segmentation(self: AnnotationCanvas) -> None:
        """Show or hide the segmentation overlay."""
        self.show_segmentation = not self.show_segmentation
        self._invalidate()

    def toggle_annotation(self: AnnotationCanvas) -> None:
        """Show or hide the annotation overlay."""
        self.show_annotation = not self.show_annotation
        self._invalidate()

    # ----- key actions -----------------------------------------------------------------

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

    # ----- mouse -----------------------------------------------------------------------

    def _image_at_cell(self, x: int, y: int) -> tuple[int, int] | None:
        if self.viewport is None or self._image is None:
            return None
        iy, ix = self.viewport.view_to_image(2 * y, x)
        h, w = self._image.shape[:2]
        if not (0 <= iy < h and 0 <= ix < w):
            return None
        return iy, ix

    def on_mouse_down(self: AnnotationCanvas, event: events.MouseDown) -> None:
        """A left click moves the cursor there and asks to paint a point."""
        target = self._image_at_cell(event.x, event.y)
        if target is None or event.button != 1:
            return
        self._dragging = True
        self.capture_mouse()
        self.set_cursor(*target)
        self.post_message(self.PaintRequested(self, [target]))

    def on_mouse_move(self: AnnotationCanvas, event: events.MouseMove) -> None:
        """Dragging paints a stroke from the last cursor position."""
        if not self._dragging:
            return
        target = self._image_at_cell(event.x, event.y)
        if target is None or target == self._cursor:
            return
        previous = self._cursor
        self.set_cursor(*target)
        self.post_message(self.PaintRequested(self, [previous, target]))

    def on_mouse_up(self: AnnotationCanvas, event: events.MouseUp) -> None:
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
