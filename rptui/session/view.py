"""The item on screen in the review session: reading images, slices and saved files.

A :class:`Viewer` shows an item (an image, or a stack opened on the slice the user left),
keeps a few recent images read, and keeps each visited slice's labels, mask and time
while the stack is open. It knows nothing of the brush, the order or the backend.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cluster.io.image_limits import ImageReadError
from cluster.io.images import read_image
from cluster.io.stacks import slice_name
from rptui.session.stack import (
    SliceState,
    read_shown_mask,
    remember_slice,
    remembered_slice,
)
from rptui.store.annotation import Annotation, AnnotationError
from rptui.store.annotation_files import from_png_bytes
from rptui.store.paths import WorkspaceError
from rptui.store.project import Project

log = logging.getLogger(__name__)

IMAGE_CACHE_SIZE = 8
PLACEHOLDER_SHAPE = (64, 64)  # shown instead of an image that cannot be read
PLACEHOLDER_GREY = 96

ImageLoader = Callable[[Path], np.ndarray]
Clock = Callable[[], float]


class Viewer:
    """Where the user is in ``project`` and what is on screen; opens where they left off.

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
        self.n_classes = len(project.config.classes)
        self.clock = clock
        self._load = image_loader
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self.index = 0
        self.z = 0  # the slice on screen (0-based; 0 for a plain image)
        self.depth = 1  # slices in the item on screen
        self.image: np.ndarray = np.zeros((1, 1, 3), np.uint8)
        self.annotation = Annotation.blank(1, 1)
        self.segmentation: np.ndarray | None = None
        self.segmentation_version: int | None = None
        self.problem: str | None = None  # why the image on screen cannot be worked on
        self.shown_at = clock()
        self.slices: dict[int, SliceState] = {}  # slices of the open item visited so far
        self.visits = 0  # slices shown so far: what was marked on one is not on the next
        self.show(min(max(project.config.position, 0), len(project) - 1))

    @property
    def stem(self) -> str:
        """The stem of the item on screen (a stack's stem, not its slice's name)."""
        return self.project.stem(self.index)

    @property
    def name(self) -> str:
        """The name of the image on screen: the stem, or ``stem.z0003`` for a stack slice."""
        return self.name_of(self.index, self.z)

    @property
    def is_stack(self) -> bool:
        """Whether the item on screen is a stack of slices."""
        return self.depth > 1

    def name_of(self, index: int, z: int) -> str:
        """The name slice ``z`` of item ``index`` goes by (its stem for a plain image)."""
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

    def opening_slice(self, index: int) -> int:
        """The slice item ``index`` opens on: where the user left it, else the first."""
        depth = self._depth_of(index)
        stem = self.project.stem(index)
        return remembered_slice(self.project.config.settings, stem, depth) if depth > 1 else 0

    # -- images --------------------------------------------------------------------------
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

    # -- moving ----------------------------------------------------------------------------
    def show(self, index: int) -> None:
        """Load image ``index`` with its saved annotation and latest segmentation.

        An image that cannot be read, or whose saved annotation does not fit it, is
        shown as a grey placeholder with :attr:`problem` naming the file; nothing is
        saved for it, so the files on disk stay as they are.
        """
        if not 0 <= index < len(self.project):
            raise WorkspaceError(f"image {index + 1} is not in 1..{len(self.project)}")
        self.index = index
        self.slices = {}
        self.depth, self.z = 1, 0
        self.problem = None
        try:
            self.depth = self.project.depth(index) if self.project.is_stack(index) else 1
        except (ImageReadError, OSError) as error:
            log.warning("image %d (%s): %s", index + 1, self.stem, error)
            self.problem = str(error)
        self._enter_slice(self.opening_slice(index))
        if not self.project.read_only and self.project.config.position != index:
            self.project.set_position(index)

    def show_slice(self, z: int) -> None:
        """Show slice ``z`` (0-based) of the stack on screen; its labels are kept meanwhile."""
        z = min(max(int(z), 0), self.depth - 1)
        if z == self.z:
            return
        self.leave_slice()
        self._enter_slice(z)
        remember_slice(self.project.config.settings, self.stem, z)

    def leave_slice(self) -> None:
        """Keep the slice on screen's mask and add the time spent on it."""
        state = self.slices.get(self.z)
        if state is not None:
            state.segmentation = self.segmentation
            state.segmentation_version = self.segmentation_version
            state.seconds += self.clock() - self.shown_at

    def use_slice(self, z: int) -> None:
        """Make slice ``z``'s kept state the one on screen (no clock, no reads but the cache)."""
        state = self.slices[z]
        self.z = z
        if self.depth > 1 and self.problem is None:
            self.image = self.load_image(self.index, z)
        self.annotation = state.annotation
        self.segmentation = state.segmentation
        self.segmentation_version = state.segmentation_version

    def _enter_slice(self, z: int) -> None:
        """Show slice ``z`` of the open item: its kept state, or the files on disk."""
        self.z = z
        state = self.slices.get(z)
        if state is None:
            state = self.slices[z] = self._load_slice_state(z)
        else:
            self.image = self.load_image(self.index, z)
        self.annotation = state.annotation
        self.segmentation = state.segmentation
        self.segmentation_version = state.segmentation_version
        self.visits += 1
        self.shown_at = self.clock()

    # -- masks -----------------------------------------------------------------------------
    def take_mask(self, name: str, mask: np.ndarray, version: int) -> bool:
        """A segmenter's mask of ``name``: shown if it is the image on screen (never over a
        newer model's), kept if it is another visited slice; True when shown."""
        self._keep_for_slice(name, mask, version)
        if name != self.name or mask.shape != self.image.shape[:2]:
            return False
        shown = self.segmentation_version
        if self.segmentation is not None and shown is not None and version < shown:
            return False  # a late result of an older model never replaces the mask shown
        if self.segmentation is None and not self.annotation.dirty:
            self.shown_at = self.clock()  # waiting for the segmenter is not the user's time
        self.segmentation = mask
        self.segmentation_version = version
        return True

    def _keep_for_slice(self, name: str, mask: np.ndarray, version: int) -> None:
        """A mask of another visited slice of the open stack replaces the one it keeps."""
        if not self.is_stack or name == self.name:
            return
        for z, state in self.slices.items():
            if self.name_of(self.index, z) != name or state.annotation.shape != mask.shape:
                continue
            if state.segmentation_version is None or version >= state.segmentation_version:
                state.segmentation, state.segmentation_version = mask, version

    # -- reading a slice -------------------------------------------------------------------
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
        state = SliceState(
            Annotation.blank(*shape, classes=k) if labels is None else Annotation(labels, classes=k)
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
