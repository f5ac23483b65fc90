"""The canvas in true pixels: keeps the terminal's picture in step with what the canvas shows.

:class:`TruePixels` holds what changed since the picture was last sent (everything, or
rows of the view after a dab) and asks the picture (Kitty or Sixel) for the least it must
send; :class:`TruePixelCanvas` is the canvas's side: it draws after Textual's frames,
hides the picture under other screens and keeps it off notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from textual.app import App
from textual.geometry import Region
from textual.screen import Screen

from rptui.tui.canvas.cursor import cursor_pixels
from rptui.tui.canvas.layers import ViewLayers
from rptui.tui.canvas.palettes import Palette
from rptui.tui.canvas.viewport import Viewport
from rptui.tui.graphics.frame import CursorPixels, Frame, PixelBox, TerminalPicture
from rptui.tui.graphics.hub import GraphicsHub, graphics_of
from rptui.tui.graphics.kitty_picture import KittyPicture
from rptui.tui.graphics.sixel_picture import SixelPicture
from rptui.tui.graphics.support import CellSize

HALF_BLOCK_CELL = (1, 2)  # a cell's (width, height) in view pixels with half blocks
CROSS_CELLS = 0.4  # the cursor's cross reaches this share of a cell each way
NOTIFICATIONS = "Toast"  # Textual's notification widgets, drawn over the screen


class TruePixels:
    """What the terminal shows of one canvas, and what is owed to it."""

    def __init__(self, hub: GraphicsHub) -> None:
        self.hub = hub
        self.layered = hub.support.path == "kitty"  # the terminal stacks translucent pictures
        picture: TerminalPicture = KittyPicture() if self.layered else SixelPicture()
        self.picture = picture
        self._everything = True
        self._dirty: list[PixelBox] = []
        self._viewport: tuple[float, ...] | None = None  # what the picture on screen shows
        self.hidden = False

    @property
    def cell(self) -> CellSize:
        """A cell's size in pixels (the terminal may report a new one on a resize)."""
        return self.hub.support.cell

    @property
    def cell_pixels(self) -> tuple[int, int]:
        """A cell's (width, height) in view pixels."""
        return self.cell.width, self.cell.height

    @property
    def pending(self) -> bool:
        """Part of the view changed since the picture was last sent."""
        return self._everything or bool(self._dirty)

    def showing(self, viewport: Viewport) -> bool:
        """The picture on screen shows this viewport (the same part of the image, as large)."""
        return not self._everything and self._viewport == _viewport_key(viewport)

    def invalidate(self, viewport: Viewport | None) -> None:
        """The view shows another part of the image, or at another size (zoom, pan, resize)."""
        self._everything = True
        self._dirty.clear()
        self._viewport = _viewport_key(viewport) if viewport is not None else None

    def dirty(self, box: PixelBox) -> None:
        """These view pixels changed (a dab: its cells; new overlays: all of the view)."""
        if not self._everything:
            self._dirty.append(box)

    def boxes_of(self, regions: list[Region], canvas: Region) -> list[PixelBox]:
        """The view pixels under screen regions (cells) that overlap the canvas."""
        width, height = self.cell_pixels
        boxes = []
        for region in regions:
            overlap = region.intersection(canvas)
            if overlap.area:
                y0, x0 = (overlap.y - canvas.y) * height, (overlap.x - canvas.x) * width
                boxes.append((y0, x0, y0 + overlap.height * height, x0 + overlap.width * width))
        return boxes

    def draw(
        self,
        view: np.ndarray,
        cursor: CursorPixels,
        origin: tuple[int, int],
        covered: list[PixelBox],
        layers: ViewLayers | None = None,
    ) -> None:
        """Send what the terminal lacks of this view (and its layers) and cursor."""
        dirty = None if self._everything else self._dirty
        frame = Frame(view, cursor, origin, self.cell, dirty, covered, layers)
        self._everything, self._dirty, self.hidden = False, [], False
        self.hub.send(self.picture.draw(frame))

    def hide(self) -> None:
        """Another screen is shown: take the picture away until the next draw."""
        if not self.hidden:
            self.hidden = True
            self.hub.send(self.picture.hide())

    def remove(self) -> None:
        """The canvas goes: delete its pictures from the terminal."""
        self.hub.send(self.picture.remove())


def _viewport_key(viewport: Viewport) -> tuple[float, ...]:
    return (
        viewport.scale,
        viewport.origin_y,
        viewport.origin_x,
        viewport.view_h,
        viewport.view_w,
    )


class PixelCanvas(Protocol):
    """What :class:`TruePixelCanvas` uses of the canvas it is mixed into."""

    viewport: Viewport | None
    palette: Palette
    brush_radius: int
    brush_value: int
    pen_down: bool
    _image: np.ndarray | None
    _cursor: tuple[int, int]
    _true_pixels: TruePixels | None
    _draw_pending: bool

    @property
    def app(self) -> App[Any]: ...
    @property
    def screen(self) -> Screen[object]: ...
    @property
    def is_mounted(self) -> bool: ...
    @property
    def content_region(self) -> Region: ...
    @property
    def cell_pixels(self) -> tuple[int, int]: ...
    def rendered_view(self) -> np.ndarray | None: ...
    def rendered_layers(self) -> ViewLayers | None: ...
    def cursor_pixels(self) -> CursorPixels: ...
    def call_after_refresh(self, callback: Callable[[], object]) -> bool: ...
    def after_frame(self, written: list[Region]) -> None: ...
    def _draw_pixels(self) -> None: ...


class TruePixelCanvas:
    """Drawing the canvas in true pixels, for the canvas widget (a mixin)."""

    _true_pixels: TruePixels | None
    _draw_pending: bool

    def on_mount(self: PixelCanvas) -> None:
        """Draw in true pixels when the app's terminal shows them."""
        hub = graphics_of(self.app)
        if hub is not None and hub.support.true_pixels:
            self._true_pixels = TruePixels(hub)
            hub.listen(self)

    def on_unmount(self: PixelCanvas) -> None:
        """Take the canvas's pictures off the terminal."""
        pixels = self._true_pixels
        if pixels is not None:
            pixels.hub.ignore(self)
            pixels.remove()

    @property
    def cell_pixels(self) -> tuple[int, int]:
        """A cell's (width, height) in view pixels: (1, 2) with half blocks."""
        pixels = self._true_pixels
        return HALF_BLOCK_CELL if pixels is None else pixels.cell_pixels

    def cursor_pixels(self: PixelCanvas) -> CursorPixels:
        """The cursor's view pixels; with true pixels a cross marks its centre."""
        if self.viewport is None or self._image is None:
            return []
        cross = round(CROSS_CELLS * self.cell_pixels[0]) if self._true_pixels is not None else 0
        return cursor_pixels(
            self.viewport,
            self._cursor,
            brush_radius=self.brush_radius,
            brush_value=self.brush_value,
            pen_down=self.pen_down,
            palette=self.palette,
            arm=cross,
        )

    def _schedule_pixels(self: PixelCanvas) -> None:
        """Send the picture after Textual's next frame (text would erase a Sixel image)."""
        if not self._draw_pending:
            self._draw_pending = True
            self.call_after_refresh(self._draw_pixels)

    def after_frame(self: PixelCanvas, written: list[Region]) -> None:
        """A frame was written: hide the picture under another screen, mend what text covered."""
        pixels = self._true_pixels
        if pixels is None or not self.is_mounted:
            return
        if not self.screen.is_active:
            pixels.hide()
            return
        region = self.content_region
        covered = [written_region.intersection(region) for written_region in written]
        if sum(part.area for part in covered) >= region.area and _covers(covered, region):
            covered = [region]  # the whole canvas, line by line: one box
        boxes = pixels.boxes_of(covered, region)
        for box in boxes:
            pixels.picture.text_written(box)
        if boxes or self._draw_pending or pixels.hidden or pixels.pending:
            self._draw_pixels()

    def _draw_pixels(self: PixelCanvas) -> None:
        self._draw_pending = False
        pixels = self._true_pixels
        if pixels is None or not self.is_mounted or not self.screen.is_active:
            return
        view = self.rendered_view()
        if view is None:
            return
        region = self.content_region
        notes = [toast.region for toast in self.screen.query(NOTIFICATIONS)]
        covered = pixels.boxes_of(notes, region)
        layers = self.rendered_layers()
        pixels.draw(view, self.cursor_pixels(), (region.y, region.x), covered, layers)


def _covers(parts: list[Region], region: Region) -> bool:
    """The parts (inside ``region``) leave no cell of it uncovered."""
    cells = np.zeros((region.height, region.width), bool)
    for part in parts:
        cells[
            part.y - region.y : part.bottom - region.y, part.x - region.x : part.right - region.x
        ] = True
    return bool(cells.all())
