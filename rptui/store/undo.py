"""Undo and redo for label images, storing only the boxes an edit changed.

An edit is a list of :class:`Patch` es, each holding the pixels of one box as they were
before the edit. Undoing swaps each patch with the image (in reverse order), so the patch
then holds the pixels as they were after the edit, ready for redo: one copy per box, no
whole-image copies.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

import numpy as np

DEFAULT_UNDO_DEPTH = 100
MIN_UNDO_DEPTH = 1
EDIT = "edit"  # the kind of a step nobody named


@dataclass(frozen=True)
class Box:
    """A rectangle of pixels, rows ``y0:y1`` and columns ``x0:x1`` (ends exclusive)."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def height(self) -> int:
        """Number of rows (0 for an empty box)."""
        return max(0, self.y1 - self.y0)

    @property
    def width(self) -> int:
        """Number of columns (0 for an empty box)."""
        return max(0, self.x1 - self.x0)

    @property
    def area(self) -> int:
        """Number of pixels."""
        return self.height * self.width

    @property
    def is_empty(self) -> bool:
        """True when the box holds no pixel."""
        return self.area == 0

    @property
    def slices(self) -> tuple[slice, slice]:
        """Index an array with ``array[box.slices]``."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def union(self, other: Box) -> Box:
        """The smallest box holding both (an empty box adds nothing)."""
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        return Box(
            min(self.y0, other.y0),
            min(self.x0, other.x0),
            max(self.y1, other.y1),
            max(self.x1, other.x1),
        )

    def clip(self, height: int, width: int) -> Box:
        """This box cut to an image of ``height`` x ``width`` (empty when fully outside)."""
        box = Box(max(0, self.y0), max(0, self.x0), min(height, self.y1), min(width, self.x1))
        return box if not box.is_empty else EMPTY_BOX


EMPTY_BOX = Box(0, 0, 0, 0)


def union_all(boxes: list[Box]) -> Box:
    """The union of ``boxes`` (empty for none)."""
    result = EMPTY_BOX
    for box in boxes:
        result = result.union(box)
    return result


@dataclass
class Patch:
    """The pixels of ``box`` on the other side of an edit (before it, or after it once undone)."""

    box: Box
    data: np.ndarray


_step_ids = itertools.count(1)


@dataclass
class Step:
    """One undo step: the patches of one edit, in the order they were painted, and what
    kind of edit it was (``stroke``, ``point``, ...: words for the user)."""

    patches: list[Patch]
    kind: str = EDIT
    id: int = field(default_factory=lambda: next(_step_ids))

    @property
    def box(self) -> Box:
        """Every pixel the step may have changed."""
        return union_all([patch.box for patch in self.patches])

    @property
    def nbytes(self) -> int:
        """Bytes of pixel data the step holds."""
        return sum(patch.data.nbytes for patch in self.patches)


def swap_patch(labels: np.ndarray, patch: Patch) -> None:
    """Write ``patch`` into ``labels`` and keep the pixels it replaced in the patch."""
    region = labels[patch.box.slices]
    current = region.copy()
    region[...] = patch.data
    patch.data = current


class History:
    """Undo and redo stacks of :class:`Step` s with a depth limit and stroke grouping.

    Edits recorded between :meth:`begin` and :meth:`end` (nestable) become one step.
    The history does the bookkeeping; the owner of the label image swaps the patches.
    """

    def __init__(self, *, depth: int = DEFAULT_UNDO_DEPTH) -> None:
        if depth < MIN_UNDO_DEPTH:
            raise ValueError(f"undo depth must be at least {MIN_UNDO_DEPTH}, got {depth}")
        self.depth = depth
        self._undo: deque[Step] = deque()
        self._redo: list[Step] = []
        self._open: list[Patch] = []
        self._open_kind = EDIT
        self._group_depth = 0
        self._base_id = 0  # the state id when the undo stack is empty

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo (an open group counts)."""
        return bool(self._undo) or bool(self._open)

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return bool(self._redo)

    @property
    def in_group(self) -> bool:
        """True between :meth:`begin` and the matching :meth:`end`."""
        return self._group_depth > 0

    @property
    def undo_steps(self) -> int:
        """Number of steps that can be undone."""
        return len(self._undo) + (1 if self._open else 0)

    @property
    def redo_steps(self) -> int:
        """Number of steps that can be redone."""
        return len(self._redo)

    @property
    def undo_kind(self) -> str | None:
        """The kind of edit the next undo takes back (None: nothing to undo)."""
        if self._open:
            return self._open_kind
        return self._undo[-1].kind if self._undo else None

    @property
    def redo_kind(self) -> str | None:
        """The kind of edit the next redo makes again (None: nothing to redo)."""
        return self._redo[-1].kind if self._redo else None

    @property
    def state_id(self) -> int:
        """Names the current label state: equal ids mean the same labels."""
        return self._undo[-1].id if self._undo else self._base_id

    @property
    def nbytes(self) -> int:
        """Bytes of pixel data held for undo and redo."""
        steps = itertools.chain(self._undo, self._redo)
        return sum(step.nbytes for step in steps) + sum(p.data.nbytes for p in self._open)

    def begin(self, kind: str = EDIT) -> None:
        """Start grouping edits into one step of ``kind`` (the outermost group names it)."""
        if self._group_depth == 0 and not self._open:
            self._open_kind = kind
        self._group_depth += 1

    def end(self) -> Box | None:
        """Close one level of grouping; at the outermost level push the group as one step."""
        if self._group_depth == 0:
            return None
        self._group_depth -= 1
        if self._group_depth > 0:
            return None
        return self._close()

    def record(self, patch: Patch, kind: str = EDIT) -> None:
        """Add the before-pixels of one changed box to the current edit (outside a group,
        an edit of ``kind`` on its own)."""
        self._redo.clear()
        if self._group_depth == 0:
            self._open_kind = kind
        self._open.append(patch)
        if self._group_depth == 0:
            self._close()

    def take_undo(self) -> Step | None:
        """Move the newest step to the redo stack and return it (the caller swaps it)."""
        self._group_depth = 0
        self._close()
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        return step

    def take_redo(self) -> Step | None:
        """Move the newest undone step back to the undo stack and return it."""
        if self.in_group or not self._redo:
            return None
        step = self._redo.pop()
        self._push(step)
        return step

    def clear(self) -> None:
        """Forget every step (the current labels become the base state)."""
        self._close()
        self._base_id = self.state_id
        self._undo.clear()
        self._redo.clear()
        self._group_depth = 0

    def _close(self) -> Box | None:
        if not self._open:
            return None
        step = Step(self._open, self._open_kind)
        self._open = []
        self._push(step)
        return step.box

    def _push(self, step: Step) -> None:
        self._undo.append(step)
        while len(self._undo) > self.depth:
            self._base_id = self._undo.popleft().id
