"""Keyboard and mouse control of the canvas: cursor moves, zoom, pan, layer toggles, painting.

:class:`CanvasControls` is a mixin for :class:`rptui.tui.canvas.widget.AnnotationCanvas`; it relies
on the canvas's state (``viewport``, ``_image``, ``_cursor``, ...) and its redraw methods.
"""

from __future__ import annotations

from typing import Protocol, cast

import numpy as np
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget

from rptui.tui.canvas.cursor import CursorMarks
from rptui.tui.canvas.messages import CursorMoved, PaintRequested, ViewChanged
from rptui.tui.canvas.viewport import Viewport

PAN_FRACTION = 0.25  # of the view per pan step
FULL_SIZE_PERCENT = 100.0  # one image pixel per view pixel
LAYERS = ("image", "segmentation", "annotation")
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


def pointer_in_pixels(app: object) -> bool:
    """The terminal reports the mouse in pixels (Textual turned SGR-pixel mode on)."""
    driver = getattr(app, "_driver", None)  # Textual keeps the mode on its driver
    return bool(getattr(driver, "_mouse_pixels", False))


class ControlledCanvas(Protocol):
    """What the controls use of the canvas they are mixed into."""

    viewport: Viewport | None
    show_image: bool
    show_segmentation: bool
    show_annotation: bool
    pen_down: bool
    _image: np.ndarray | None
    _cursor: tuple[int, int]
    _overlay: CursorMarks | None
    _fitted: bool
    _dragging: bool

    @property
    def cursor_step(self) -> int: ...
    @property
    def cell_pixels(self) -> tuple[int, int]: ...
    @property
    def app(self) -> object: ...
    def move_cursor(self, dy: int, dx: int) -> None: ...
    def set_cursor(self, y: int, x: int) -> None: ...
    def zoom_in(self) -> None: ...
    def zoom_out(self) -> None: ...
    def _after_view_change(self) -> None: ...
    def _image_at(self, event: events.MouseEvent) -> tuple[int, int] | None: ...
    def _cursor_lines(self) -> set[int]: ...
    def _cursor_in_view(self) -> bool: ...
    def _refresh_lines(self, lines: set[int]) -> None: ...
    def _view_centre(self) -> tuple[float, float]: ...
    def _invalidate(self, *, same_view: bool = False) -> None: ...
    def post_message(self, message: Message) -> bool: ...
    def capture_mouse(self, capture: bool = True) -> None: ...
    def release_mouse(self) -> None: ...


def _sender(canvas: ControlledCanvas) -> Widget:
    """The canvas as the widget its messages come from (the controls are mixed into a widget)."""
    return cast(Widget, canvas)


class CanvasControls:
    """Navigation, layer toggles, key actions and mouse painting for the annotation canvas."""

    _overlay: CursorMarks | None  # reset to None below, which is not its only value

    @property
    def cursor_step(self: ControlledCanvas) -> int:
        """Image pixels per cursor step: a cell's width of view pixels, at least one image pixel.

        With half blocks that is one view pixel; with true pixels the keys keep the same
        pace on the screen, and zooming in makes steps finer.
        """
        scale = self.viewport.scale if self.viewport is not None else 1.0
        return max(1, round(scale * self.cell_pixels[0]))

    @property
    def zoom_percent(self: ControlledCanvas) -> float:
        """View pixels per hundred image pixels: 100 shows the image at full size."""
        scale = self.viewport.scale if self.viewport is not None else 1.0
        return FULL_SIZE_PERCENT / scale

    @property
    def hidden_layers(self: ControlledCanvas) -> list[str]:
        """The layers hidden now (``image``, ``segmentation``, ``annotation``)."""
        shown = (self.show_image, self.show_segmentation, self.show_annotation)
        return [layer for layer, visible in zip(LAYERS, shown, strict=True) if not visible]

    def move_cursor(self: ControlledCanvas, dy: int, dx: int) -> None:
        """Move the cursor by (dy, dx) steps (see ``cursor_step``)."""
        step = self.cursor_step
        y, x = self._cursor
        self.set_cursor(y + dy * step, x + dx * step)

    def set_cursor(self: ControlledCanvas, y: int, x: int) -> None:
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
        self.post_message(CursorMoved(_sender(self), previous, new, self.pen_down))

    def zoom_in(self: ControlledCanvas) -> None:
        """Magnify around the cursor."""
        if self.viewport is not None:
            self.viewport.zoom_in(self._cursor)
            self._after_view_change()

    def zoom_out(self: ControlledCanvas) -> None:
        """Zoom out around the cursor (no farther than the whole image)."""
        if self.viewport is not None:
            self.viewport.zoom_out(self._cursor)
            self._after_view_change()

    def fit(self: ControlledCanvas) -> None:
        """Show the whole image."""
        if self.viewport is not None:
            self.viewport.fit()
            self._fitted = True
            self._invalidate()
            self.post_message(ViewChanged(_sender(self)))

    def pan(self: ControlledCanvas, dy: int, dx: int) -> None:
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
            self.post_message(CursorMoved(_sender(self), previous, self._cursor, pen_down=False))

    def _after_view_change(self: ControlledCanvas) -> None:
        """Keep the cursor in view after a zoom, and redraw."""
        self._fitted = False
        if self.viewport is not None and not self._cursor_in_view():
            self.viewport.place(self._cursor[0] + 0.5, self._cursor[1] + 0.5, *self._view_centre())
        self._overlay = None
        self._invalidate()
        self.post_message(ViewChanged(_sender(self)))

    def toggle_image(self: ControlledCanvas) -> None:
        """Show or hide the image under the overlays."""
        self.show_image = not self.show_image
        self._invalidate(same_view=True)
        self.post_message(ViewChanged(_sender(self)))

    def toggle_segmentation(self: ControlledCanvas) -> None:
        """Show or hide the segmentation overlay."""
        self.show_segmentation = not self.show_segmentation
        self._invalidate(same_view=True)
        self.post_message(ViewChanged(_sender(self)))

    def toggle_annotation(self: ControlledCanvas) -> None:
        """Show or hide the annotation overlay."""
        self.show_annotation = not self.show_annotation
        self._invalidate(same_view=True)
        self.post_message(ViewChanged(_sender(self)))

    # ----- key actions -----------------------------------------------------------------

    def action_move(self: ControlledCanvas, dy: int, dx: int) -> None:
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

    def _image_at(self: ControlledCanvas, event: events.MouseEvent) -> tuple[int, int] | None:
        """The image pixel under the mouse, or None outside the image.

        With half blocks: the cell's upper pixel. With true pixels: the pixel under the
        pointer when the terminal reports pixel positions (SGR-pixel mouse), else the
        middle of the cell.
        """
        if self.viewport is None or self._image is None:
            return None
        width, height = self.cell_pixels
        if width == 1:
            vy, vx = height * event.y, event.x
        elif pointer_in_pixels(self.app):
            vy, vx = int(event.pointer_y * height), int(event.pointer_x * width)
        else:
            vy, vx = int((event.y + 0.5) * height), int((event.x + 0.5) * width)
        iy, ix = self.viewport.view_to_image(vy, vx)
        h, w = self._image.shape[:2]
        if not (0 <= iy < h and 0 <= ix < w):
            return None
        return iy, ix

    def on_mouse_down(self: ControlledCanvas, event: events.MouseDown) -> None:
        """A left click moves the cursor there and asks to paint a point."""
        target = self._image_at(event)
        if target is None or event.button != 1:
            return
        self._dragging = True
        self.capture_mouse()
        self.set_cursor(*target)
        self.post_message(PaintRequested(_sender(self), [target]))

    def on_mouse_move(self: ControlledCanvas, event: events.MouseMove) -> None:
        """Dragging paints a stroke from the last cursor position."""
        if not self._dragging:
            return
        target = self._image_at(event)
        if target is None or target == self._cursor:
            return
        previous = self._cursor
        self.set_cursor(*target)
        self.post_message(PaintRequested(_sender(self), [previous, target]))

    def on_mouse_up(self: ControlledCanvas, event: events.MouseUp) -> None:
        """End a drag."""
        if self._dragging:
            self._dragging = False
            self.release_mouse()

    def on_mouse_scroll_up(self: ControlledCanvas, event: events.MouseScrollUp) -> None:
        """Wheel up zooms in."""
        self.zoom_in()

    def on_mouse_scroll_down(self: ControlledCanvas, event: events.MouseScrollDown) -> None:
        """Wheel down zooms out."""
        self.zoom_out()
