"""Accepting in the review session: saving the annotation, logging the corrections, moving on.

:class:`Accepting` is a mixin of :class:`rptui.session.review.ReviewSession`. A stack's visited
slices are each saved under their slice name; a writable project logs one row of
corrective metrics per slice accepted (``corrections.csv``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cluster.api import AnnotatedImage
from rptui.session.corrective import (
    CORRECTIONS_LOG_NAME,
    CorrectionRecord,
    append_correction,
    correction_record,
)
from rptui.session.state import ReviewState
from rptui.store.annotation_files import to_png_bytes

log = logging.getLogger(__name__)


class Accepting(ReviewState):
    """Enter's work: save what was painted and move on (see the module docstring)."""

    n_classes: int
    last_correction: CorrectionRecord | None
    _leave_slice: Callable[[], None]
    _move: Callable[[int], None]
    load_image: Callable[..., np.ndarray]

    def accept(self) -> AnnotatedImage | None:
        """Save what was painted, mark the image reviewed and move on.

        Returns the annotation for the trainer when one was saved, else None (a stack's
        slices: see :meth:`accept_all`). A writable project also logs the corrective
        metrics (``last_correction``, ``corrections.csv``).
        """
        items = self.accept_all()
        return items[-1] if items else None

    def accept_all(self) -> list[AnnotatedImage]:
        """Like :meth:`accept`; returns every slice saved (each under its slice name)."""
        unusable = self.read_only or self.problem is not None
        self._leave_slice()
        self.last_correction = None
        items: list[AnnotatedImage] = []
        shown_version = self.segmentation_version
        for z in sorted(self._slices):
            self._use_slice(z)
            if not unusable:
                self.last_correction = self._log_correction(self._slices[z].seconds)
            item = self.save_annotation()
            if item is not None:
                items.append(item)
        if not unusable:
            self.project.set_position(self.index, reviewed=True)
        self._move(self.serving.next_index(self.index, shown_version=shown_version))
        return items

    def _use_slice(self, z: int) -> None:
        """Make slice ``z``'s kept state the one on screen (no clock, no reads but the cache)."""
        state = self._slices[z]
        self.z = z
        if self.depth > 1 and self.problem is None:
            self.image = self.load_image(self.index, z)
        self.annotation = state.annotation
        self.segmentation = state.segmentation
        self.segmentation_version = state.segmentation_version

    @property
    def corrections_log(self) -> Path:
        """The project's log of corrective metrics, one row per accepted image."""
        return self.project.logs_dir / CORRECTIONS_LOG_NAME

    def _log_correction(self, seconds: float) -> CorrectionRecord:
        """Score the shown segmentation by the corrections and append the row to the log."""
        record = correction_record(
            image=self.name,
            labels=self.annotation.labels,
            shown=self.segmentation,
            model_version=self.segmentation_version,
            seconds=seconds,
            time=time.time(),
        )
        try:
            append_correction(self.corrections_log, record)
        except OSError as error:
            log.warning("could not log the corrections of %s: %s", self.name, error)
        return record

    def save_annotation(self) -> AnnotatedImage | None:
        """Save the annotation if it changed and is not empty; its split is fixed by the project."""
        ann = self.annotation
        if self.read_only or self.problem is not None or not ann.dirty or ann.is_empty:
            return None
        png = to_png_bytes(ann.labels, classes=self.n_classes)
        split = self.project.save_annotation_png(self.name, None, png)
        ann.mark_saved()
        return AnnotatedImage(self.name, self.image, ann.labels.copy(), split)
