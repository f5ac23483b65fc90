"""The annotate screen's painting keys: brushes and classes, points, the pen, undo, X, box.

:class:`PaintActions` is a mixin for :class:`rptui.tui.screens.annotate.AnnotateScreen`;
it relies on the screen's session, canvas, undo note and status line (see
:class:`PaintingScreen`).
"""

from __future__ import annotations

from typing import Protocol

from rptui.session.review import ReviewSession
from rptui.session.undo_note import UndoNote
from rptui.store.annotation import BINARY_CLASSES
from rptui.store.undo import Box
from rptui.tui.canvas.widget import AnnotationCanvas


class PaintingScreen(Protocol):
    """What the painting keys use of the screen they are mixed into."""

    session: ReviewSession
    undo_note: UndoNote

    @property
    def canvas(self) -> AnnotationCanvas: ...
    def refresh_status(self, *, waiting: bool | None = None) -> None: ...
    def notify(self, message: str) -> None: ...
    def _paint_done(self, box: Box | None) -> None: ...
    def _brush_changed(self) -> None: ...
    def _end_pen(self) -> None: ...


class PaintActions:
    """Key actions that paint on the image on screen or choose what paints."""

    def _paint_done(self: PaintingScreen, box: Box | None) -> None:
        """Redraw what an edit changed, and the status line (an undo note ends with it)."""
        if box is not None:
            self.canvas.mark_dirty(box)
            self.refresh_status()

    def _brush_changed(self: PaintingScreen) -> None:
        brush = self.session.brush
        self.canvas.set_brush(radius=brush.radius, value=brush.value)
        self.refresh_status()

    def action_brush(self: PaintingScreen, value: int) -> None:
        """Choose the foreground (the chosen class), background or eraser brush."""
        self.session.brush.use(value)
        self._brush_changed()

    def action_choose_class(self: PaintingScreen, number: int) -> None:
        """Paint class ``number`` (keys 1-9); in a binary project only 1 (foreground)."""
        brush = self.session.brush
        if not brush.choose_class(number):
            if brush.n_classes == BINARY_CLASSES:
                self.notify(f"key {number}: a binary project has one class (1 = foreground)")
            else:
                self.notify(f"key {number}: this project has classes 1-{brush.n_classes - 1}")
            return
        self._brush_changed()

    def action_brush_size(self: PaintingScreen, step: int) -> None:
        """Make the current brush smaller or larger."""
        brush = self.session.brush
        brush.set_radius(brush.radius + step)
        self.canvas.set_brush(radius=brush.radius)
        self.refresh_status()

    def action_point(self: PaintingScreen) -> None:
        """Paint one dab at the cursor."""
        self._paint_done(self.session.brush.paint_point(*self.canvas.cursor_image_position))

    def action_pen(self: PaintingScreen) -> None:
        """Put the pen down (cursor moves paint) or lift it."""
        brush = self.session.brush
        if not brush.lift_pen():
            self._paint_done(brush.put_pen_down(*self.canvas.cursor_image_position))
        self.canvas.set_brush(pen_down=brush.pen_down)
        self.refresh_status()

    def _end_pen(self: PaintingScreen) -> None:
        if self.session.brush.lift_pen():
            self.canvas.set_brush(pen_down=False)

    def action_undo(self: PaintingScreen) -> None:
        """Undo the last edit (a whole stroke at once); the status line says what."""
        self._end_pen()
        self._paint_done(self.undo_note.undo(self.session.viewer.annotation))
        self.refresh_status()

    def action_redo(self: PaintingScreen) -> None:
        """Redo what was undone; the status line says what."""
        self._end_pen()
        self._paint_done(self.undo_note.redo(self.session.viewer.annotation))
        self.refresh_status()

    def action_false_positive(self: PaintingScreen) -> None:
        """Label the predicted region under the cursor background."""
        box = self.session.brush.mark_false_positive(*self.canvas.cursor_image_position)
        if box is None:
            self.notify("no predicted region under the cursor")
        self._paint_done(box)

    def action_box(self: PaintingScreen) -> None:
        """Mark a corner; the second press fills the box with the current brush."""
        self._paint_done(self.session.brush.box_mark_or_fill(*self.canvas.cursor_image_position))
        self.refresh_status()
