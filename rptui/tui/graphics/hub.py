"""The app's way to the terminal for pictures, and who hears which cells a frame wrote.

Textual writes a frame of text; pictures must follow it (text over a Sixel image erases
it) in the same stream. The app calls :meth:`GraphicsHub.after_frame` with each frame it
wrote; canvases listening learn which screen cells it covered, and write their pictures
through :meth:`GraphicsHub.send`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from textual._compositor import ChopsUpdate, LayoutUpdate  # the frame types Textual writes
from textual.app import App
from textual.geometry import Region

from rptui.tui.graphics.escapes import Drawing, wrap_drawings
from rptui.tui.graphics.support import TEXT_ONLY, CellSize, GraphicsSupport

Writer = Callable[[str], None]


class FrameListener(Protocol):
    """Something drawn after the text of each frame (a true-pixel canvas)."""

    def after_frame(self, written: list[Region]) -> None:
        """Textual has just written text over these screen regions."""
        ...


def written_regions(update: Any) -> list[Region]:
    """The screen regions a frame of Textual's writes text over."""
    if isinstance(update, LayoutUpdate):
        return [update.region]
    if isinstance(update, ChopsUpdate):
        return [Region(x1, y, x2 - x1, 1) for y, x1, x2 in update.spans if x2 > x1]
    return []


class GraphicsHub:
    """Where the app's pictures go, and the canvases that draw them.

    Args:
        support: what the terminal can show (detected before the app started).
        write: where the pictures' bytes go; by default the app's terminal driver (the
            stream Textual writes its frames to, so that order is kept).
    """

    def __init__(self, support: GraphicsSupport = TEXT_ONLY, write: Writer | None = None) -> None:
        self.support = support
        self._write = write
        self._app: App[Any] | None = None
        self._listeners: list[FrameListener] = []
        self.bytes_sent = 0

    def attach(self, app: App[Any]) -> None:
        """Write to ``app``'s terminal (unless a writer was given)."""
        self._app = app

    def listen(self, listener: FrameListener) -> None:
        """Call ``listener`` after every frame."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def ignore(self, listener: FrameListener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def after_frame(self, update: Any) -> None:
        """Tell the listeners which cells a frame Textual wrote covered."""
        if not self._listeners or update is None:
            return
        written = written_regions(update)
        for listener in [*self._listeners]:
            listener.after_frame(written)

    def resized(self, columns: int, rows: int, pixels: tuple[int, int] | None) -> None:
        """The terminal's new size in cells, and in pixels when it says (a new font size)."""
        if pixels is None or not self.support.true_pixels or columns <= 0 or rows <= 0:
            return
        cell = CellSize(pixels[0] // columns, pixels[1] // rows)
        if cell.width > 0 and cell.height > 0 and cell != self.support.cell:
            self.support = replace(self.support, cell=cell, cell_measured=True)

    def moved(self) -> None:
        """The terminal was resized: tmux panes may have moved."""
        if self.support.tmux is not None:
            self.support.tmux.refresh()

    def send(self, drawings: list[Drawing]) -> None:
        """Write drawings as one synchronized update (through tmux when inside it)."""
        tmux = self.support.tmux
        data = wrap_drawings(drawings, tmux_offset=tmux.offset() if tmux is not None else None)
        if not data:
            return
        self.bytes_sent += len(data)
        if self._write is not None:
            self._write(data)
            return
        app = self._app
        driver = app._driver if app is not None else None  # the stream Textual's frames go to
        if driver is not None and app is not None and not app.is_headless:
            driver.write(data)
            driver.flush()


def graphics_of(app: App[Any]) -> GraphicsHub | None:
    """The app's graphics hub, when it has one (the rptui app does)."""
    hub = getattr(app, "graphics", None)
    return hub if isinstance(hub, GraphicsHub) else None
