"""The item on screen in the review session: reading images, slices and saved files.

:class:`Viewing` is a mixin of :class:`rptui.session.review.ReviewSession`: it shows an item (an
image, or a stack opened on the slice the user left), keeps a few recent images read, and
keeps each visited slice's labels, mask and time while the stack is open.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cluster.io.images import ImageReadError
from rptui.session.stack import (
    SliceState,
    read_shown_mask,
    remember_slice,
    remembered_slice,
)
from rptui.session.state import ReviewState
from rptui.store.annotation import Annotation, AnnotationError
from rptui.store.annotation_files import from_png_bytes
from rptui.store.paths import WorkspaceError
from rptui.store.project import slice_name

log = logging.getLogger(__name__)

IMAGE_CACHE_SIZE = 8
PLACEHOLDER_SHAPE = (64, 64)  # shown instead of an image that cannot be read
PLACEHOLDER_GREY = 96

ImageLoader = Callable[[Path], np.ndarray]
Clock = Callable[[], float]


class Viewing(ReviewState):
    """Where the user is and what is on screen (see the module docstring)."""

    n_classes: int
    _load: ImageLoader
    _clock: Clock
    _cache: OrderedDict[tuple[int, int], np.ndarray]
    box_mark: tuple[int, int] | None

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

    def _opening_slice(self, index: int) -> int:
        """The slice item ``index`` opens on: where the user left it, else the first."""
        depth = self._depth_of(index)
        stem = self.project.stem(index)
        return remembered_slice(self.project.config.settings, stem, depth) if depth > 1 else 0
