"""Messages the annotation canvas posts (handled as ``on_annotation_canvas_*``)."""

from __future__ import annotations

from textual.message import Message
from textual.widget import Widget

NAMESPACE = "annotation_canvas"


class CursorMoved(Message, namespace=NAMESPACE):
    """The cursor moved from ``previous`` to ``position`` (image pixels)."""

    def __init__(
        self,
        canvas: Widget,
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
    def control(self) -> Widget:
        """The canvas that sent the message."""
        return self.canvas


class PaintRequested(Message, namespace=NAMESPACE):
    """The mouse asks to paint along ``points`` (image pixels) with the current brush."""

    def __init__(self, canvas: Widget, points: list[tuple[int, int]]) -> None:
        super().__init__()
        self.canvas = canvas
        self.points = points

    @property
    def control(self) -> Widget:
        """The canvas that sent the message."""
        return self.canvas


class ViewChanged(Message, namespace=NAMESPACE):
    """The zoom or the layers shown changed (the status line says which)."""

    def __init__(self, canvas: Widget) -> None:
        super().__init__()
        self.canvas = canvas

    @property
    def control(self) -> Widget:
        """The canvas that sent the message."""
        return self.canvas
