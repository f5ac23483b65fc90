"""The review session without any UI: where the user is, what they painted, what to save.

The terminal app drives a :class:`ReviewSession`; every decision (which image comes
next, what is saved where, which images to pre-segment, the status line) lives here so
that it is tested without Textual.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    UNLABELLED,
    AnnotatedImage,
    Segmentation,
    TrainerStatus,
)
from cluster.images import ImageReadError, encode_png, read_image, read_mask
from rptui.annotation import Annotation, AnnotationError, from_png_bytes, to_png_bytes
from rptui.corrective import (
    CORRECTIONS_LOG_NAME,
    CorrectionRecord,
    append_correction,
    correction_record,
)
from rptui.order import (
    ORDER_NAMES,
    ORDER_SETTING,
    ORDERS,
    SCORE_PRIORITY,
    SCORES_FILE_NAME,
    SCORING_EXTRA,
    SEQUENTIAL,
    UNCERTAIN,
    ScoreBook,
    ServedHistory,
    most_uncertain,
    next_in_sequence,
    order_of,
    to_score,
)
from rptui.paths import WorkspaceError
from rptui.project import Project
from rptui.undo import Box

log = logging.getLogger(__name__)

IMAGE_CACHE_SIZE = 8
PLACEHOLDER_SHAPE = (64, 64)  # shown instead of an image that cannot be read
PLACEHOLDER_GREY = 96
MAX_PRE_SEGMENT = 10
MAX_BRUSH_RADIUS = 200
MASK_WHITE = 255
SEPARATOR = " · "
BRUSH_SETTING = {
    FOREGROUND: "foreground_brush_size",
    BACKGROUND: "background_brush_size",
    UNLABELLED: "background_brush_size",
}
BRUSH_NAMES = {FOREGROUND: "foreground", BACKGROUND: "background", UNLABELLED: "eraser"}

ImageLoader = Callable[[Path], np.ndarray]
Clock = Callable[[], float]


@dataclass
class PresegPlan:
    """What to ask the segmenter for after moving: (index, priority) pairs and names to drop."""

    requests: list[tuple[int, int]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)


class ReviewSession:
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
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._requested: set[str] = set()
        self._scoring: set[str] = set()
        self.scores = ScoreBook.load(
            project.root / SCORES_FILE_NAME, writable=not project.read_only
        )
        self.index = min(max(project.config.position, 0), len(project) - 1)
        known = {stem: i for i, stem in enumerate(map(project.stem, range(len(project))))}
        earlier = [known[stem] for stem in project.config.served if stem in known]
        self.history = ServedHistory.resume(earlier, self.index)
        self.image: np.ndarray = np.zeros((1, 1, 3), np.uint8)
        self.annotation = Annotation.blank(1, 1)
        self.segmentation: np.ndarray | None = None
        self.segmentation_version: int | None = None
        self.brush_value = FOREGROUND
        self.box_mark: tuple[int, int] | None = None
        self.problem: str | None = None  # why the image on screen cannot be worked on
        self.show(self.index)

    # -- where we are -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.project)

    @property
    def stem(self) -> str:
        """The stem of the image on screen."""
        return self.project.stem(self.index)

    @property
    def read_only(self) -> bool:
        """Whether nothing may be saved."""
        return self.project.read_only

    def load_image(self, index: int) -> np.ndarray:
        """Image ``index`` (cached; a few recent images are kept)."""
        image = self._cache.get(index)
        if image is None:
            image = self._load(self.project.image_path(index))
            self._cache[index] = image
            while len(self._cache) > IMAGE_CACHE_SIZE:
                self._cache.popitem(last=False)
        self._cache.move_to_end(index)
        return image

    def show(self, index: int) -> None:
        """Load image ``index`` with its saved annotation and latest segmentation.

        An image that cannot be read, or whose saved annotation does not fit it, is
        shown as a grey placeholder with :attr:`problem` naming the file; nothing is
        saved for it, so the files on disk stay as they are.
        """
        if not 0 <= index < len(self):
            raise WorkspaceError(f"image {index + 1} is not in 1..{len(self)}")
        self.index = index
        self.problem = None
        try:
            self.image = self.load_image(index)
            labels = self._saved_labels(self.image.shape[:2])
        except (ImageReadError, AnnotationError, OSError) as error:
            log.warning("image %d (%s): %s", index + 1, self.stem, error)
            self.problem = str(error)
            self.image = np.full((*PLACEHOLDER_SHAPE, 3), PLACEHOLDER_GREY, np.uint8)
            labels = None
        shape = self.image.shape[:2]
        self.annotation = Annotation(labels) if labels is not None else Annotation.blank(*shape)
        if self.problem is None:
            self.segmentation, self.segmentation_version = self._saved_segmentation(shape)
        else:
            self.segmentation, self.segmentation_version = None, None
        self.box_mark = None
        self.shown_at = self._clock()
        if not self.read_only and self.project.config.position != index:
            self.project.set_position(index)

    def _saved_labels(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """The saved annotation of the image on screen; AnnotationError naming its file."""
        path = self.project.annotation_file(self.stem)
        if path is None:
            return None
        try:
            return from_png_bytes(path.read_bytes(), expected_shape=(shape[0], shape[1]))
        except AnnotationError as error:
            raise AnnotationError(f"annotation {path} left unchanged: {error}") from error

    def _saved_segmentation(self, shape: tuple[int, ...]) -> tuple[np.ndarray | None, int | None]:
        info = self.project.segmentation_info(self.stem)
        if info is None:
            return None, None
        try:
            mask = read_mask(info.path, kind="binary")
        except (OSError, ValueError) as error:
            log.warning("ignoring the saved segmentation of %s: %s", self.stem, error)
            return None, None
        return (mask, info.model_version) if mask.shape == shape else (None, None)

    # -- moving -------------------------------------------------------------------------
    def accept(self) -> AnnotatedImage | None:
        """Save what was painted, mark the image reviewed and move on.

        Returns the annotation for the trainer when one was saved, else None. A writable
        project also logs the corrective metrics (``last_correction``, ``corrections.csv``).
        """
        unusable = self.read_only or self.problem is not None
        self.last_correction = None if unusable else self._log_correction()
        item = self.save_annotation()
        if not unusable:
            self.project.set_position(self.index, reviewed=True)
        self._move(self._next_index())
        return item

    @property
    def corrections_log(self) -> Path:
        """The project's log of corrective metrics, one row per accepted image."""
        return self.project.logs_dir / CORRECTIONS_LOG_NAME

    def _log_correction(self) -> CorrectionRecord:
        """Score the shown segmentation by the corrections and append the row to the log."""
        record = correction_record(
            image=self.stem,
            labels=self.annotation.labels,
            shown=self.segmentation,
            model_version=self.segmentation_version,
            seconds=self._clock() - self.shown_at,
            time=time.time(),
        )
        try:
            append_correction(self.corrections_log, record)
        except OSError as error:
            log.warning("could not log the corrections of %s: %s", self.stem, error)
        return record

    def save_annotation(self) -> AnnotatedImage | None:
        """Save the annotation if it changed and is not empty; its split is fixed by the project."""
        ann = self.annotation
        if self.read_only or self.problem is not None or not ann.dirty or ann.is_empty:
            return None
        split = self.project.save_annotation_png(self.stem, None, to_png_bytes(ann.labels))
        ann.mark_saved()
        return AnnotatedImage(self.stem, self.image, ann.labels.copy(), split)

    def skip(self) -> None:
        """Next image without saving."""
        self._move(self._next_index())

    def previous(self) -> None:
        """The image before: in the fixed order, or the one served before (uncertain order)."""
        if self.order == UNCERTAIN:
            self.show(self.history.back())
        else:
            self._move(max(self.index - 1, 0))

    def _move(self, index: int) -> None:
        self.show(index)
        self.history.serve(self.index)
        if self.order == UNCERTAIN and not self.read_only:  # never served again, even later
            self.project.set_position(self.index, served=True)

    # -- the order images are served in ----------------------------------------------------
    @property
    def order(self) -> str:
        """``sequential`` (the fixed order) or ``uncertain`` (most uncertain next)."""
        return order_of(self.project.config.settings)

    def set_order(self, mode: str) -> None:
        """Choose the order mode; kept in the project's settings."""
        if mode not in ORDERS:
            raise WorkspaceError(f"order must be one of {', '.join(ORDERS)}, got {mode!r}")
        self.project.config.settings[ORDER_SETTING] = mode
        self.save_settings()

    def toggle_order(self) -> str:
        """Switch between the two order modes; returns the new one."""
        self.set_order(UNCERTAIN if self.order == SEQUENTIAL else SEQUENTIAL)
        return self.order

    @property
    def newest_version(self) -> int:
        """The newest model version known: the project's model files and the scores."""
        newest = self.project.newest_model()
        return max(
            newest.number if newest is not None else 0,
            self.scores.newest_version,
            self.segmentation_version or 0,
        )

    def candidates(self) -> list[tuple[int, str]]:
        """(index, stem) of images not served in this session, not reviewed, not annotated."""
        served = self.history.served
        config = self.project.config
        return [
            (i, stem)
            for i in range(len(self))
            if i not in served
            and (stem := self.project.stem(i)) not in config.reviewed
            and stem not in config.splits
        ]

    def _next_index(self) -> int:
        if self.order == SEQUENTIAL:
            return min(self.index + 1, len(self) - 1)
        again = self.history.forward()  # the user went back with P: retrace first
        if again is not None:
            return again
        candidates = self.candidates()
        chosen = most_uncertain(candidates, self.scores, newest_version=self.newest_version)
        if chosen is None:
            chosen = next_in_sequence([i for i, _ in candidates], self.index)
        return self.index if chosen is None else chosen

    @property
    def score_text(self) -> str | None:
        """The uncertainty of the image on screen for the status line, or None."""
        score = self.scores.get(self.stem)
        if score is None:
            return None
        stale = " (older model)" if score.model_version < self.newest_version else ""
        return f"uncertainty {score.value:.2f}{stale}"

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
        """Show the image named by ``query`` (see :meth:`find`)."""
        self._move(self.find(query))

    # -- pre-segmentation ----------------------------------------------------------------
    def presegment_plan(self) -> PresegPlan:
        """The image on screen at priority 0 (unless unreadable) and the next N at 1..N;
        cancel the rest.

        In uncertain order the next image is not known in advance: instead up to N +
        SCORING_EXTRA candidates without a score by the newest model are asked for at
        SCORE_PRIORITY and up, so that their scores exist when the user moves on.
        """
        ahead = int(self.project.config.settings.get("pre_segment", 1))
        ahead = min(max(ahead, 0), MAX_PRE_SEGMENT)
        if self.order == UNCERTAIN:
            wanted = {self.index: 0}
            scoring = to_score(
                self.candidates(),
                self.scores,
                newest_version=self.newest_version,
                after=self.index,
                limit=ahead + SCORING_EXTRA,
            )
            wanted.update({i: SCORE_PRIORITY + k for k, i in enumerate(scoring)})
        else:
            last = min(self.index + ahead, len(self) - 1)
            wanted = {i: i - self.index for i in range(self.index, last + 1)}
            scoring = []
        if self.problem is not None:  # nothing to segment in a placeholder
            del wanted[self.index]
        names = {self.project.stem(i) for i in wanted}
        self._scoring = {self.project.stem(i) for i in scoring}
        plan = PresegPlan(
            requests=sorted(wanted.items(), key=lambda item: item[1]),
            cancels=sorted(self._requested - names),
        )
        self._requested = names
        return plan

    def receive_segmentation(self, result: Segmentation) -> bool:
        """Save a result (and its score) to disk; True when it belongs to the image on screen."""
        self._requested.discard(result.name)
        self._scoring.discard(result.name)
        if result.uncertainty is not None:
            self.scores.record(result.name, result.uncertainty, result.model_version)
        mask = (np.asarray(result.mask) > 0).astype(np.uint8)
        if not self.read_only:
            png = encode_png(mask * MASK_WHITE)
            self.project.save_segmentation(result.name, png, result.model_version)
        if result.name != self.stem or mask.shape != self.image.shape[:2]:
            return False
        if self.segmentation is None and not self.annotation.dirty:
            self.shown_at = self._clock()  # waiting for the segmenter is not the user's time
        self.segmentation = mask
        self.segmentation_version = result.model_version
        return True

    def scoring_names(self) -> list[str]:
        """Images asked for only to score them whose results were not received yet."""
        return sorted(self._scoring)

    # -- painting -------------------------------------------------------------------------
    @property
    def brush_radius(self) -> int:
        """The radius of the current brush (kept per brush in the project settings)."""
        return int(self.project.config.settings.get(BRUSH_SETTING[self.brush_value], 3))

    def set_brush_radius(self, radius: int) -> None:
        """Change the current brush's radius (0..MAX_BRUSH_RADIUS)."""
        radius = min(max(int(radius), 0), MAX_BRUSH_RADIUS)
        self.project.config.settings[BRUSH_SETTING[self.brush_value]] = radius

    def paint_point(self, y: int, x: int) -> Box:
        """A dab of the current brush at (y, x)."""
        return self.annotation.paint_point(y, x, radius=self.brush_radius, value=self.brush_value)

    def paint_line(self, points: list[tuple[int, int]]) -> Box:
        """A stroke of the current brush through ``points``."""
        return self.annotation.paint_stroke(
            points, radius=self.brush_radius, value=self.brush_value
        )

    def mark_false_positive(self, y: int, x: int) -> Box | None:
        """Label the predicted region under (y, x) background; None when nothing is predicted."""
        seg = self.segmentation
        if seg is None or not seg[y, x]:
            return None
        regions, _ = ndimage.label(seg > 0, structure=np.ones((3, 3), bool))
        return self.annotation.fill_mask(regions == regions[y, x], value=BACKGROUND)

    def box_mark_or_fill(self, y: int, x: int) -> Box | None:
        """First call marks a corner; the second fills the box between the marks."""
        if self.box_mark is None:
            self.box_mark = (y, x)
            return None
        (y0, x0), self.box_mark = self.box_mark, None
        return self.annotation.fill_box(y0, x0, y, x, value=self.brush_value)

    # -- what the user reads --------------------------------------------------------------
    def status_line(
        self, status: TrainerStatus | None, *, model_version: int = 0, offline: bool = False
    ) -> str:
        """``i / N · k annotated · model #m F1 0.xx · epoch e (n since best)`` and markers."""
        n_annotated = len(self.project.config.splits)
        version = max(model_version, status.model_version if status else 0)
        f1 = f"{status.best_f1:.2f}" if status and status.best_f1 is not None else "–"
        parts = [
            f"{self.index + 1} / {len(self)}",
            f"{n_annotated} annotated",
            f"model #{version} F1 {f1}",
            f"epoch {status.epoch if status else 0} "
            f"({status.epochs_since_best if status else 0} since best)",
        ]
        score = self.score_text
        if score is not None:
            parts.append(score)
        if self.order != SEQUENTIAL:
            parts.append(ORDER_NAMES[self.order])
        if offline:
            parts.append("offline")
        if self.read_only:
            parts.append(f"read-only: {self.project.read_only_reason or 'locked'}")
        if self.problem is not None:
            parts.append(f"not shown: {self.problem}")
        return SEPARATOR.join(parts)

    def save_settings(self) -> None:
        """Write the project's settings (brush sizes and the rest) if writable."""
        if not self.read_only:
            self.project.save_config()
