"""Accepting in the review session: saving the annotation and logging the corrections.

A :class:`Saver` does Enter's saving for the item on screen: a stack's visited slices
are each saved under their slice name, and a writable project logs one row of
corrective metrics per slice accepted (``corrections.csv``). Moving on is the session's.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from cluster.api import STARTING_VERSION, AnnotatedImage
from rptui.session.corrective import (
    CORRECTIONS_LOG_NAME,
    CorrectionRecord,
    append_correction,
    correction_record,
)
from rptui.session.stack import encode_mask
from rptui.session.view import Viewer
from rptui.store.annotation_files import to_png_bytes
from rptui.store.project import Project

log = logging.getLogger(__name__)


class Saver:
    """Saves what was painted on the items a ``viewer`` shows of ``project``."""

    def __init__(self, project: Project, viewer: Viewer) -> None:
        self.project = project
        self.viewer = viewer
        self.last_correction: CorrectionRecord | None = None

    @property
    def corrections_log(self) -> Path:
        """The project's log of corrective metrics, one row per accepted image."""
        return self.project.logs_dir / CORRECTIONS_LOG_NAME

    def save_item(self) -> list[AnnotatedImage]:
        """Save every visited slice of the item on screen (each under its slice name) and
        mark the item reviewed; returns the annotations saved, for the trainer.

        A writable project also logs the corrective metrics (``last_correction``,
        ``corrections.csv``).
        """
        view = self.viewer
        unusable = self.project.read_only or view.problem is not None
        view.leave_slice()
        self.last_correction = None
        items: list[AnnotatedImage] = []
        for z in sorted(view.slices):
            view.use_slice(z)
            if not unusable:
                self.last_correction = self._log_correction(view.slices[z].seconds)
            item = self.save_annotation()
            if item is not None:
                items.append(item)
        if not unusable:
            self.project.set_position(view.index, reviewed=True)
        return items

    def _log_correction(self, seconds: float) -> CorrectionRecord:
        """Score the shown segmentation by the corrections and append the row to the log."""
        view = self.viewer
        record = correction_record(
            image=view.name,
            labels=view.annotation.labels,
            shown=view.segmentation,
            model_version=view.segmentation_version,
            seconds=seconds,
            time=time.time(),
        )
        try:
            append_correction(self.corrections_log, record)
        except OSError as error:
            log.warning("could not log the corrections of %s: %s", view.name, error)
        return record

    def save_annotation(self) -> AnnotatedImage | None:
        """Save the annotation on screen if it changed and is not empty; its split is fixed
        by the project."""
        view = self.viewer
        ann = view.annotation
        if self.project.read_only or view.problem is not None or not ann.dirty or ann.is_empty:
            return None
        png = to_png_bytes(ann.labels, classes=view.n_classes)
        shown = self._accepted_segmentation()
        accepted = None if shown is None else encode_mask(shown, classes=view.n_classes)
        split = self.project.save_annotation_png(view.name, None, png, accepted)
        ann.mark_saved()
        return AnnotatedImage(view.name, view.image, ann.labels.copy(), split, shown=shown)

    def _accepted_segmentation(self) -> np.ndarray | None:
        """The mask the user painted over, when a model trained on this project drew it:
        outside the painted pixels the user accepted it (docs/method.md, validation).
        The start model's mask (random or given) is what clear examples are painted on."""
        view = self.viewer
        version = view.segmentation_version
        if view.segmentation is None or version is None or version <= STARTING_VERSION:
            return None
        return view.segmentation.copy()
