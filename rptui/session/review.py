"""The review session without any UI: where the user is, what they painted, what to save.

The terminal app drives a :class:`ReviewSession`; every decision (what is saved where,
which images to pre-segment, the status line) lives here and in its mixins so that it is
tested without Textual: :mod:`rptui.session.view` (the item on screen),
:mod:`rptui.session.paint` (the brush), :mod:`rptui.session.accept` (saving and moving on),
:mod:`rptui.session.preseg` (the segmenter's requests and results) and
:mod:`rptui.session.status` (the status line). Which image comes next is
:class:`rptui.session.serve_order.ServeOrder`'s choice.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from cluster.api import FOREGROUND
from cluster.io.images import ImageReadError, read_image
from rptui.session.accept import Accepting
from rptui.session.corrective import CorrectionRecord
from rptui.session.order import SEQUENTIAL, ScoreBook, ServedHistory
from rptui.session.paint import Painting
from rptui.session.preseg import MAX_PRE_SEGMENT, PreSegmenting, PresegPlan
from rptui.session.serve_order import ServeOrder
from rptui.session.stack import SliceState
from rptui.session.status import SEPARATOR, Reporting
from rptui.session.view import IMAGE_CACHE_SIZE, Clock, ImageLoader, Viewing
from rptui.store.annotation import Annotation
from rptui.store.paths import WorkspaceError
from rptui.store.project import Project, parse_slice_name

__all__ = [
    "IMAGE_CACHE_SIZE",
    "MAX_PRE_SEGMENT",
    "SEPARATOR",
    "PresegPlan",
    "ReviewSession",
]


class ReviewSession(Viewing, Accepting, PreSegmenting, Reporting, Painting):
    """The user's place in a project, the image on screen and its annotation.

    Args:
        project: an open project (read-only projects can be browsed but save nothing).
        image_loader: reads an image file as HxWx3 uint8 (``read_image`` by default).
        clock: seconds for the time spent on an image (``time.monotonic`` by default).
    """

    def __init__(
        self,
        project: Project,
        *,
        image_loader: ImageLoader = read_image,
        clock: Clock = time.monotonic,
    ) -> None:
        if len(project) == 0:
            raise WorkspaceError(f"project {project.name} has no images")
        self.project = project
        self._load = image_loader
        self._clock = clock
        self.shown_at = clock()
        self.last_correction: CorrectionRecord | None = None
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._requested: set[str] = set()
        self.index = min(max(project.config.position, 0), len(project) - 1)
        self.serving = ServeOrder(project, self.index)
        self.image: np.ndarray = np.zeros((1, 1, 3), np.uint8)
        self.annotation = Annotation.blank(1, 1)
        self.segmentation: np.ndarray | None = None
        self.segmentation_version: int | None = None
        self.classes = tuple(project.config.classes)
        self.paint_value = FOREGROUND  # the class keys 1-9 chose (label value)
        self.brush_value = FOREGROUND
        self.z = 0  # the slice on screen (0-based; 0 for a plain image)
        self.depth = 1  # slices in the item on screen
        self._slices: dict[int, SliceState] = {}  # slices of the open item visited so far
        self.box_mark: tuple[int, int] | None = None
        self.problem: str | None = None  # why the image on screen cannot be worked on
        self.show(self.index)

    # -- moving -------------------------------------------------------------------------
    def skip(self) -> None:
        """Next image without saving."""
        self._move(self.serving.next_index(self.index, shown_version=self.segmentation_version))

    def previous(self) -> None:
        """The image before: in the fixed order, or the one served before (uncertain order)."""
        index = self.serving.previous_index(self.index)
        if self.order == SEQUENTIAL:
            self._move(index)
        else:
            self.show(index)

    def _move(self, index: int) -> None:
        self.show(index)
        self.serving.served(self.index)

    # -- the order images are served in (see rptui.session.serve_order) ---------------------------
    @property
    def order(self) -> str:
        """``sequential`` (the fixed order) or ``uncertain`` (most uncertain next)."""
        return self.serving.mode

    def set_order(self, mode: str) -> None:
        """Choose the order mode; kept in the project's settings."""
        self.serving.set_mode(mode)
        self.save_settings()

    def toggle_order(self) -> str:
        """Switch between the two order modes; returns the new one."""
        self.set_order(self.serving.toggled())
        return self.order

    @property
    def scores(self) -> ScoreBook:
        """The project's uncertainty scores."""
        return self.serving.scores

    @property
    def history(self) -> ServedHistory:
        """The images served so far, with the cursor P and N move."""
        return self.serving.history

    @property
    def newest_version(self) -> int:
        """The newest model version known: the project's model files and the scores."""
        return self.serving.newest_version(self.segmentation_version)

    def candidates(self) -> list[tuple[int, str]]:
        """(index, stem) of images not served yet, not reviewed, not annotated."""
        return self.serving.candidates()

    @property
    def score_text(self) -> str | None:
        """The uncertainty of the image on screen for the status line, or None."""
        return self.serving.score_text(self.name, shown_version=self.segmentation_version)

    def find(self, query: str) -> int:
        """The index for a 1-based number, a stem or a file name; WorkspaceError if none."""
        text = query.strip()
        if text.isdigit():
            number = int(text)
            if 1 <= number <= len(self):
                return number - 1
            raise WorkspaceError(f"image {number} is not in 1..{len(self)}")
        return self.project.index_of(Path(text).stem)

    def goto(self, query: str) -> None:
        """Show the image named by ``query`` (see :meth:`find`), or a stack slice's name
        such as ``scan.z0003`` (that slice)."""
        text = query.strip()
        if parse_slice_name(text) is None:
            self._move(self.find(text))
            return
        try:
            index, z = self.project.locate(text)
        except ImageReadError as error:
            raise WorkspaceError(str(error)) from error
        self._move(index)
        self.show_slice(z)

    def save_settings(self) -> None:
        """Write the project's settings (brush sizes and the rest) if writable."""
        if not self.read_only:
            self.project.save_config()
