"""Undo and redo with a word on the status line: ``undo: stroke (3 left)``.

The note stays while the labels stay as the undo or redo left them; the next edit,
another image or another slice ends it.
"""

from __future__ import annotations

import weakref

from rptui.session.status import HIGH, StatusPart
from rptui.store.annotation import Annotation
from rptui.store.undo import Box

UNDO, REDO = "undo", "redo"


def history_status(action: str, kind: str | None, left: int) -> StatusPart:
    """What an undo or redo did: ``undo: stroke (3 left)``, or ``nothing to undo``."""
    if kind is None:
        return StatusPart(f"nothing to {action}", f"no {action}", HIGH)
    return StatusPart(f"{action}: {kind} ({left} left)", f"{action} ({left})", HIGH)


class UndoNote:
    """Undoes and redoes on an annotation and remembers what to say about it."""

    def __init__(self) -> None:
        self._annotation: weakref.ref[Annotation] | None = None
        self._steps = (0, 0)
        self._part: StatusPart | None = None

    def undo(self, annotation: Annotation) -> Box | None:
        """Undo the newest edit; the box to redraw (None: nothing was undone)."""
        kind = annotation.undo_kind
        box = annotation.undo()
        self._remember(annotation, history_status(UNDO, kind, annotation.undo_steps))
        return box

    def redo(self, annotation: Annotation) -> Box | None:
        """Redo the newest undone edit; the box to redraw (None: nothing was redone)."""
        kind = annotation.redo_kind
        box = annotation.redo()
        self._remember(annotation, history_status(REDO, kind, annotation.redo_steps))
        return box

    def part(self, annotation: Annotation) -> StatusPart | None:
        """The note, while ``annotation`` is as the last undo or redo left it."""
        same = self._annotation is not None and self._annotation() is annotation
        if same and self._steps == (annotation.undo_steps, annotation.redo_steps):
            return self._part
        return None

    def _remember(self, annotation: Annotation, part: StatusPart) -> None:
        self._annotation = weakref.ref(annotation)
        self._steps = (annotation.undo_steps, annotation.redo_steps)
        self._part = part
