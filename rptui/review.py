"""The review session without any UI: where the user is, what they painted, what to save.

The terminal app drives a :class:`ReviewSession`; every decision (what is saved where,
which images to pre-segment, the status line) lives here so that it is tested without
Textual. Which image comes next is :class:`rptui.serve_order.ServeOrder`'s choice.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cluster.api import (
    FOREGROUND,
    AnnotatedImage,
    Segmentation,
    TrainerStatus,
)
from cluster.images import ImageReadError, read_image
from rptui.annotation import (
    Annotation,
    AnnotationError,
    from_png_bytes,
    to_png_bytes,
)
from rptui.corrective import (
    CORRECTIONS_LOG_NAME,
    CorrectionRecord,
    append_correction,
    correction_record,
)
from rptui.order import ORDER_NAMES, SEQUENTIAL, ScoreBook, ServedHistory
from rptui.paths import WorkspaceError
from rptui.project import Project, parse_slice_name, slice_name
from rptui.review_paint import Painting
from rptui.review_stack import (
    SliceState,
    as_shown_mask,
    encode_mask,
    read_shown_mask,
    remember_slice,
    remembered_slice,
)
from rptui.serve_order import ServeOrder

log = logging.getLogger(__name__)

IMAGE_CACHE_SIZE = 8
PLACEHOLDER_SHAPE = (64, 64)  # shown instead of an image that cannot be read
PLACEHOLDER_GREY = 96
MAX_PRE_SEGMENT = 10
SEPARATOR = " · "

ImageLoader = Callable[[Path], np.ndarray]
Clock = Callable[[], float]


@dataclass
class PresegPlan:
    """What to ask the segmenter for after moving: (index, priority) pairs and names to drop."""

    requests: list[tuple[int, int]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    # (index, slice, priority) of every request: a stack's slice on screen, its neighbours
    slices: list[tuple[int, int, int]] = field(default_factory=list)


class ReviewSession(Painting):
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

    # -- where we are -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.project)

    @property
    def stem(self) -> str:
        """The stem of the item on screen (a stack's stem, not its slice's name)."""
        return self.project.stem(self.index)

    @property
    def name(self) -> str:
        """The name of the image on screen: the stem, or ``stem.z0003`` for a stack slice."""
        return self._name(self.index, self.z)

    @property
    def is_stack(self) -> bool:
        """Whether the item on screen is a stack of slices."""
        return self.depth > 1

    def _name(self, index: int, z: int) -> str:
        stem = self.project.stem(index)
        return slice_name(stem, z) if self._depth_of(index) > 1 else stem

    def _depth_of(self, index: int) -> int:
        """Slices in item ``index`` (1 for a plain image or one that cannot be read)."""
        if index == self.index:
            return self.depth
        try:
            return self.project.depth(index) if self.project.is_stack(index) else 1
        except (ImageReadError, OSError):
            return 1

    @property
    def read_only(self) -> bool:
        """Whether nothing may be saved."""
        return self.project.read_only

    def load_image(self, index: int, z: int = 0) -> np.ndarray:
        """Slice ``z`` of item ``index`` (cached; a few recent images are kept)."""
        image = self._cache.get((index, z))
        if image is None:
            image = self.read_slice(index, z)
        self.keep_image(index, z, image)
        return image

    def read_slice(self, index: int, z: int = 0) -> np.ndarray:
        """Read slice ``z`` of item ``index`` from disk (uncached: safe in a worker thread)."""
        if self._depth_of(index) > 1:
            return self.project.read_slice(index, z)
        return self._load(self.project.image_path(index))

    def cached_image(self, index: int, z: int) -> np.ndarray | None:
        """Slice ``z`` of item ``index`` if it was read already, else None."""
        return self._cache.get((index, z))

    def keep_image(self, index: int, z: int, image: np.ndarray) -> None:
        """Cache an image read elsewhere (by the pre-segmentation's reads, say)."""
        self._cache[(index, z)] = image
        self._cache.move_to_end((index, z))
        while len(self._cache) > IMAGE_CACHE_SIZE:
            self._cache.popitem(last=False)

    def show(self, index: int) -> None:
        """Load image ``index`` with its saved annotation and latest segmentation.

        An image that cannot be read, or whose saved annotation does not fit it, is
        shown as a grey placeholder with :attr:`problem` naming the file; nothing is
        saved for it, so the files on disk stay as they are.
        """
        if not 0 <= index < len(self):
            raise WorkspaceError(f"image {index + 1} is not in 1..{len(self)}")
        self.index = index
        self._slices = {}
        self.depth, self.z = 1, 0
        self.problem = None
        try:
            self.depth = self.project.depth(index) if self.project.is_stack(index) else 1
        except (ImageReadError, OSError) as error:
            log.warning("image %d (%s): %s", index + 1, self.stem, error)
            self.problem = str(error)
        self._enter_slice(self._opening_slice(index))
        if not self.read_only and self.project.config.position != index:
            self.project.set_position(index)

    def show_slice(self, z: int) -> None:
        """Show slice ``z`` (0-based) of the stack on screen; its labels are kept meanwhile."""
        z = min(max(int(z), 0), self.depth - 1)
        if z == self.z:
            return
        self._leave_slice()
        self._enter_slice(z)
        remember_slice(self.project.config.settings, self.stem, z)

    def _leave_slice(self) -> None:
        state = self._slices.get(self.z)
        if state is not None:
            state.segmentation = self.segmentation
            state.segmentation_version = self.segmentation_version
            state.seconds += self._clock() - self.shown_at

    def _enter_slice(self, z: int) -> None:
        """Show slice ``z`` of the open item: its kept state, or the files on disk."""
        self.z = z
        state = self._slices.get(z)
        if state is None:
            state = self._slices[z] = self._load_slice_state(z)
        else:
            self.image = self.load_image(self.index, z)
        self.annotation = state.annotation
        self.segmentation = state.segmentation
        self.segmentation_version = state.segmentation_version
        self.box_mark = None
        self.shown_at = self._clock()

    def _load_slice_state(self, z: int) -> SliceState:
        """Read slice ``z`` with its saved annotation and mask; a placeholder when unreadable."""
        labels = None
        if self.problem is None:
            try:
                self.image = self.load_image(self.index, z)
                labels = self._saved_labels(self.image.shape[:2])
            except (ImageReadError, AnnotationError, OSError) as error:
                log.warning("image %d (%s): %s", self.index + 1, self.name, error)
                self.problem = str(error)
        if self.problem is not None:
            self.image = np.full((*PLACEHOLDER_SHAPE, 3), PLACEHOLDER_GREY, np.uint8)
            labels = None
        shape = self.image.shape[:2]
        k = self.n_classes
        blank = labels is None
        state = SliceState(
            Annotation.blank(*shape, classes=k) if blank else Annotation(labels, classes=k)
        )
        if self.problem is None:
            state.segmentation, state.segmentation_version = self._saved_segmentation(shape)
        return state

    def _saved_labels(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """The saved annotation of the image on screen; AnnotationError naming its file."""
        path = self.project.annotation_file(self.name)
        if path is None:
            return None
        try:
            return from_png_bytes(
                path.read_bytes(), expected_shape=(shape[0], shape[1]), classes=self.n_classes
            )
        except AnnotationError as error:
            raise AnnotationError(f"annotation {path} left unchanged: {error}") from error

    def _saved_segmentation(self, shape: tuple[int, ...]) -> tuple[np.ndarray | None, int | None]:
        info = self.project.segmentation_info(self.name)
        if info is None:
            return None, None
        try:
            mask = read_shown_mask(info.path, classes=self.n_classes)
        except (OSError, ValueError) as error:
            log.warning("ignoring the saved segmentation of %s: %s", self.name, error)
            return None, None
        return (mask, info.model_version) if mask.shape == shape else (None, None)

    # -- moving -------------------------------------------------------------------------
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

    # -- the order images are served in (see rptui.serve_order) ---------------------------
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
        wanted = self.serving.to_request(self.index, ahead, shown_version=self.segmentation_version)
        if self.problem is not None:  # nothing to segment in a placeholder
            del wanted[self.index]
        slices: list[tuple[int, int, int]] = []
        for index, priority in sorted(wanted.items(), key=lambda item: item[1]):
            if index != self.index:
                slices.append((index, self._opening_slice(index), priority + self.is_stack))
                continue
            slices.append((index, self.z, priority))
            neighbours = (self.z - 1, self.z + 1) if self.is_stack else ()
            slices.extend((index, z, priority + 1) for z in neighbours if 0 <= z < self.depth)
        names = {self._name(index, z) for index, z, _ in slices}
        plan = PresegPlan(
            requests=sorted(wanted.items(), key=lambda item: item[1]),
            cancels=sorted(self._requested - names),
            slices=slices,
        )
        self._requested = names
        return plan

    def _opening_slice(self, index: int) -> int:
        """The slice item ``index`` opens on: where the user left it, else the first."""
        depth = self._depth_of(index)
        stem = self.project.stem(index)
        return remembered_slice(self.project.config.settings, stem, depth) if depth > 1 else 0

    def request_name(self, index: int, z: int) -> str:
        """The name a segmentation request for slice ``z`` of item ``index`` goes by."""
        return self._name(index, z)

    def receive_segmentation(self, result: Segmentation) -> bool:
        """Save a result (and its score) to disk; True when it belongs to the image on screen."""
        self._requested.discard(result.name)
        self.serving.receive(result)
        mask = as_shown_mask(result.mask, classes=self.n_classes)
        saved = self.project.segmentation_info(result.name)
        saved_version = saved.model_version if saved is not None else None
        if not self.read_only and (saved_version is None or result.model_version >= saved_version):
            png = encode_mask(mask, classes=self.n_classes)
            self.project.save_segmentation(result.name, png, result.model_version)
        self._keep_for_slice(result.name, mask, result.model_version)
        if result.name != self.name or mask.shape != self.image.shape[:2]:
            return False
        shown = self.segmentation_version
        if self.segmentation is not None and shown is not None and result.model_version < shown:
            return False  # a late result of an older model never replaces the mask shown
        if self.segmentation is None and not self.annotation.dirty:
            self.shown_at = self._clock()  # waiting for the segmenter is not the user's time
        self.segmentation = mask
        self.segmentation_version = result.model_version
        return True

    def _keep_for_slice(self, name: str, mask: np.ndarray, version: int) -> None:
        """A mask of another visited slice of the open stack replaces the one it keeps."""
        if not self.is_stack or name == self.name:
            return
        for z, state in self._slices.items():
            if self._name(self.index, z) != name or state.annotation.shape != mask.shape:
                continue
            if state.segmentation_version is None or version >= state.segmentation_version:
                state.segmentation, state.segmentation_version = mask, version

    def scoring_names(self) -> list[str]:
        """Images asked for only to score them whose results were not received yet."""
        return self.serving.scoring_names()

    # -- what the user reads --------------------------------------------------------------
    def status_line(
        self, status: TrainerStatus | None, *, model_version: int = 0, offline: bool = False
    ) -> str:
        """``i / N · k annotated · model #m F1 0.xx · epoch e (n since best)`` and markers."""
        n_annotated = len(self.project.config.splits)
        version = max(model_version, status.model_version if status else 0)
        f1 = f"{status.best_f1:.2f}" if status and status.best_f1 is not None else "–"
        parts = [f"{self.index + 1} / {len(self)}"]
        if self.is_stack:
            parts.append(f"slice {self.z + 1}/{self.depth}")
        parts += [
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
