"""The user's painted labels: painting, undo, and the train/validation split.

Labels use the seam's encoding (:mod:`cluster.api`): ``UNLABELLED`` 0, then class index + 1
(``BACKGROUND`` 1, ``FOREGROUND`` 2 in a binary project). Painting replaces pixels, never
blends them; erasing is painting ``UNLABELLED``.

A brush of radius ``r`` covers the pixels whose centres lie within ``r`` of the brush
centre (radius 0 is one pixel, radius 1 a plus of five). A stroke covers every pixel
within ``r`` of its polyline, so it has no gaps however far apart its points are (a
radius-0 stroke covers those within half a pixel: a one-pixel line without breaks).

The files they are saved in are :mod:`rptui.store.annotation_files`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED, Split
from rptui.store.undo import DEFAULT_UNDO_DEPTH, EMPTY_BOX, Box, History, Patch, swap_patch

__all__ = [
    "BINARY_CLASSES",
    "Annotation",
    "AnnotationError",
    "Box",
    "assign_split",
]

VAL_PER_TRAIN = 5  # an annotation goes to validation when n_train >= 5 * n_val
STROKE_CHUNK = 32  # long stroke segments are painted in pieces this long (pixels)
THIN_STROKE_REACH = 0.5  # a radius-0 stroke covers pixels within half a pixel: a thin line
_DISTANCE_SLACK = 1e-6  # tolerance for points lying exactly on the brush edge
_N_VALUES = 256
BINARY_CLASSES = 2  # RootPainter's projects: background and foreground
# What an undo step was, in the user's words (see :meth:`Annotation.undo_kind`).
POINT, STROKE, BOX, REGION = "point", "stroke", "box", "region"


class AnnotationError(ValueError):
    """An annotation that cannot be used: wrong size, unknown format, bad value."""


def _disk_mask(radius: int) -> np.ndarray:
    """The (2r+1)² boolean brush of ``radius``."""
    offsets = np.arange(-radius, radius + 1)
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius


def _segment_mask(a: np.ndarray, b: np.ndarray, radius: int, box: Box) -> np.ndarray:
    """Pixels of ``box`` whose centres lie within ``radius`` of the segment ``a``–``b``.

    Radius 0 reaches half a pixel, so a thin stroke is still an unbroken line.
    """
    reach2 = (radius if radius > 0 else THIN_STROKE_REACH) ** 2 + _DISTANCE_SLACK
    yy = np.arange(box.y0, box.y1, dtype=np.float64)[:, None] - a[0]
    xx = np.arange(box.x0, box.x1, dtype=np.float64)[None, :] - a[1]
    dy, dx = b - a
    length2 = dy * dy + dx * dx
    if length2 == 0.0:
        return yy * yy + xx * xx <= reach2
    t = np.clip((yy * dy + xx * dx) / length2, 0.0, 1.0)
    ey = yy - t * dy
    ex = xx - t * dx
    return ey * ey + ex * ex <= reach2


def _stroke_pieces(
    points: Sequence[tuple[int, int]], radius: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Split the polyline into short straight pieces (so each has a small bounding box)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 1:
        yield pts[0], pts[0]
        return
    chunk = max(STROKE_CHUNK, 4 * radius)
    for start, end in itertools.pairwise(pts):
        n = max(1, math.ceil(float(np.hypot(*(end - start))) / chunk))
        for k in range(n):
            yield start + (end - start) * (k / n), start + (end - start) * ((k + 1) / n)


class Annotation:
    """A full-resolution label image with painting and undo.

    Every edit returns the :class:`Box` that changed (for the canvas to redraw) and is
    one undo step; :meth:`stroke` groups many edits into one step.
    """

    def __init__(
        self,
        labels: np.ndarray,
        *,
        classes: int = 2,
        undo_depth: int = DEFAULT_UNDO_DEPTH,
    ) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 2:
            raise AnnotationError(f"labels must be a 2-D array, got shape {labels.shape}")
        if labels.size and not 0 <= int(labels.min()) <= int(labels.max()) <= classes:
            raise AnnotationError(f"labels must lie in 0..{classes} for {classes} classes")
        self._labels = np.array(labels, dtype=np.uint8, copy=True, order="C")
        self.classes = classes
        self._history = History(depth=undo_depth)
        self._counts = np.bincount(self._labels.ravel(), minlength=_N_VALUES)
        self._saved_state = self._history.state_id

    @classmethod
    def blank(cls, height: int, width: int, **options: int) -> Annotation:
        """An annotation with every pixel unlabelled."""
        return cls(np.zeros((height, width), dtype=np.uint8), **options)

    # --- reading -------------------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        """The label image, read-only (edit through the methods so undo sees every change)."""
        view = self._labels.view()
        view.flags.writeable = False
        return view

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        height, width = self._labels.shape
        return height, width

    def count(self, value: int) -> int:
        """Number of pixels holding ``value``."""
        return int(self._counts[value])

    @property
    def foreground_pixels(self) -> int:
        """Pixels painted foreground."""
        return self.count(FOREGROUND)

    @property
    def background_pixels(self) -> int:
        """Pixels painted background."""
        return self.count(BACKGROUND)

    @property
    def is_empty(self) -> bool:
        """True when no pixel is labelled."""
        return self.count(UNLABELLED) == self._labels.size

    @property
    def dirty(self) -> bool:
        """True when the labels differ from those last marked saved (or given)."""
        return self._history.state_id != self._saved_state

    changed = dirty

    def mark_saved(self) -> None:
        """Record that the current labels are on disk."""
        self._saved_state = self._history.state_id

    # --- painting -------------------------------------------------------------------------
    def paint_point(self, y: int, x: int, *, radius: int, value: int) -> Box:
        """Paint a disk of ``radius`` centred on pixel (``y``, ``x``), clipped to the image."""
        self._check(radius, value)
        box = Box(y - radius, x - radius, y + radius + 1, x + radius + 1)
        clipped = box.clip(*self.shape)
        if clipped.is_empty:
            return EMPTY_BOX
        mask = _disk_mask(radius)[
            clipped.y0 - box.y0 : clipped.y1 - box.y0, clipped.x0 - box.x0 : clipped.x1 - box.x0
        ]
        return clipped if self._apply(clipped, mask, value, POINT) else EMPTY_BOX

    def paint_stroke(self, points: Sequence[tuple[int, int]], *, radius: int, value: int) -> Box:
        """Paint every pixel within ``radius`` of the polyline through ``points``."""
        self._check(radius, value)
        changed = EMPTY_BOX
        height, width = self.shape
        with self.stroke():
            for a, b in _stroke_pieces(points, radius):
                low = np.floor(np.minimum(a, b) - radius).astype(int)
                high = np.ceil(np.maximum(a, b) + radius).astype(int) + 1
                box = Box(int(low[0]), int(low[1]), int(high[0]), int(high[1]))
                box = box.clip(height, width)
                if box.is_empty:
                    continue
                if self._apply(box, _segment_mask(a, b, radius, box), value):
                    changed = changed.union(box)
        return changed

    def fill_box(self, y0: int, x0: int, y1: int, x1: int, *, value: int) -> Box:
        """Fill the rectangle with corners (``y0``, ``x0``) and (``y1``, ``x1``), both included.

        The corners may come in any order (two marks the user placed).
        """
        self._check(0, value)
        box = Box(min(y0, y1), min(x0, x1), max(y0, y1) + 1, max(x0, x1) + 1)
        box = box.clip(*self.shape)
        if box.is_empty:
            return EMPTY_BOX
        return box if self._apply(box, None, value, BOX) else EMPTY_BOX

    def fill_mask(self, mask: np.ndarray, *, value: int) -> Box:
        """Set every pixel where ``mask`` is true to ``value``, as one undo step."""
        self._check(0, value)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.shape:
            raise AnnotationError(f"mask {mask.shape} does not match annotation {self.shape}")
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            return EMPTY_BOX
        cols = np.flatnonzero(mask.any(axis=0))
        box = Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
        return box if self._apply(box, mask[box.slices], value, REGION) else EMPTY_BOX

    # --- undo -----------------------------------------------------------------------------
    @contextmanager
    def stroke(self) -> Iterator[None]:
        """Group every edit made inside the block into one undo step."""
        self.begin_stroke()
        try:
            yield
        finally:
            self.end_stroke()

    def begin_stroke(self) -> None:
        """Start a stroke painted piece by piece (pen down); it will undo as one step."""
        self._history.begin(STROKE)

    def end_stroke(self) -> Box | None:
        """End the stroke (pen up); returns the box it changed, or None if it changed nothing."""
        return self._history.end()

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return self._history.can_redo

    @property
    def undo_kind(self) -> str | None:
        """What the next undo takes back (``stroke``, ``point``, ``box``, ``region``), or None."""
        return self._history.undo_kind

    @property
    def redo_kind(self) -> str | None:
        """What the next redo paints again, or None."""
        return self._history.redo_kind

    @property
    def undo_steps(self) -> int:
        """Edits that can be undone."""
        return self._history.undo_steps

    @property
    def redo_steps(self) -> int:
        """Undone edits that can be redone."""
        return self._history.redo_steps

    @property
    def history_bytes(self) -> int:
        """Bytes of pixel data held for undo and redo."""
        return self._history.nbytes

    def undo(self) -> Box | None:
        """Undo the newest edit (ending any open stroke); returns the box to redraw."""
        step = self._history.take_undo()
        if step is None:
            return None
        for patch in reversed(step.patches):
            self._swap(patch)
        return step.box

    def redo(self) -> Box | None:
        """Redo the newest undone edit; returns the box to redraw."""
        step = self._history.take_redo()
        if step is None:
            return None
        for patch in step.patches:
            self._swap(patch)
        return step.box

    # --- internals ------------------------------------------------------------------------
    def _check(self, radius: int, value: int) -> None:
        if radius < 0:
            raise AnnotationError(f"brush radius must be 0 or more, got {radius}")
        if not 0 <= value <= self.classes:
            raise AnnotationError(f"label value must be 0..{self.classes}, got {value}")

    def _apply(self, box: Box, mask: np.ndarray | None, value: int, kind: str = STROKE) -> bool:
        """Set ``mask`` (None: all) of ``box`` to ``value``; record it as an edit of ``kind``
        (inside a stroke, part of it); True if anything changed."""
        region = self._labels[box.slices]
        old = region if mask is None else region[mask]
        old_counts = np.bincount(old.ravel(), minlength=_N_VALUES)
        if old_counts[value] == old.size:
            return False
        self._history.record(Patch(box, region.copy()), kind)
        if mask is None:
            region[...] = value
        else:
            region[mask] = value
        self._counts -= old_counts
        self._counts[value] += old.size
        return True

    def _swap(self, patch: Patch) -> None:
        self._counts -= np.bincount(self._labels[patch.box.slices].ravel(), minlength=_N_VALUES)
        swap_patch(self._labels, patch)
        self._counts += np.bincount(self._labels[patch.box.slices].ravel(), minlength=_N_VALUES)


# --- the train/validation split ---------------------------------------------------------------
def assign_split(n_train: int, n_val: int) -> Split:
    """Where a newly annotated image goes, given how many each split already has.

    Validation when ``n_train >= 5 * n_val`` (so the first goes to validation and the
    second to training), training otherwise.
    """
    if n_train < 0 or n_val < 0:
        raise ValueError(f"counts must be 0 or more, got n_train={n_train}, n_val={n_val}")
    return "val" if n_train >= VAL_PER_TRAIN * n_val else "train"
