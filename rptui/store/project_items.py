"""The items of a project's dataset, in the project's order, and their slices.

An item is an image file, a multi-page TIFF or a folder of numbered slices; a stack's
slice z is named ``<stem>.z<z+1:04d>``. Depths, slice listings and stack windows are
read once and kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cluster.io.image_limits import DEFAULT_MAX_PIXELS, ImageReadError
from cluster.io.images import TIFF_SUFFIXES, read_image
from cluster.io.stacks import (
    list_slice_files,
    parse_slice_name,
    read_stack_slice,
    slice_name,
    stack_depth,
    stack_window,
)
from rptui.store.paths import WorkspaceError, stem_of, validate_name
from rptui.store.project_config import ProjectConfig


class ProjectItems:
    """A project's items (``config.images``, files or folders in ``dataset_dir``)."""

    def __init__(self, config: ProjectConfig, dataset_dir: Path) -> None:
        self.config = config
        self.dataset_dir = Path(dataset_dir)
        self._depths: dict[int, int] = {}
        self._windows: dict[int, tuple[float, float] | None] = {}
        self._slice_files: dict[int, list[Path]] = {}

    # images -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.config.images)

    @property
    def image_names(self) -> list[str]:
        """Image file names in the fixed project order."""
        return list(self.config.images)

    def image_path(self, index: int) -> Path:
        """The file (or slice folder) of item ``index`` in the project order."""
        return self.dataset_dir / validate_name(self.config.images[index], what="image name")

    def stem(self, index: int) -> str:
        """The stem annotations and segmentations of image ``index`` are named by."""
        return stem_of(self.config.images[index])

    def index_of(self, stem: str) -> int:
        """The position of the image with ``stem``; WorkspaceError when absent."""
        for index, file_name in enumerate(self.config.images):
            if Path(file_name).stem == stem:
                return index
        raise WorkspaceError(f"project {self.config.name} has no image {stem!r}")

    # items and their slices -----------------------------------------------
    def depth(self, index: int) -> int:
        """Slices in item ``index``: 1 for an image, Z for a stack (read once, then kept).

        Raises:
            cluster.io.image_limits.ImageReadError: the item cannot be read; names the file.
        """
        if index not in self._depths:
            path = self.image_path(index)
            depth = len(self._slice_folder(index)) if path.is_dir() else stack_depth(path)
            self._depths[index] = depth
        return self._depths[index]

    def is_stack(self, index: int) -> bool:
        """Whether item ``index`` is a stack: a slice folder or a multi-page TIFF."""
        path = self.image_path(index)
        if path.is_dir():
            return True
        return path.suffix.lower() in TIFF_SUFFIXES and self.depth(index) > 1

    def slice_name(self, index: int, z: int) -> str:
        """The name annotations and segmentations of slice ``z`` of item ``index`` use.

        A plain image's name is its stem; slice z of a stack is ``<stem>.z<z+1:04d>``.
        """
        if not 0 <= z < self.depth(index):
            raise WorkspaceError(
                f"{self.config.images[index]} has slices 1..{self.depth(index)}, not {z + 1}"
            )
        return slice_name(self.stem(index), z) if self.is_stack(index) else self.stem(index)

    def slice_names(self, index: int) -> list[str]:
        """The names of every slice of item ``index``, in order."""
        return [self.slice_name(index, z) for z in range(self.depth(index))]

    def locate(self, name: str) -> tuple[int, int]:
        """(item index, 0-based z) of a slice name (``scan.z0003``) or a plain image's stem.

        Raises:
            WorkspaceError: no item has that name, or the stack has no such slice.
        """
        parsed = parse_slice_name(name)
        if parsed is not None:
            stem, z = parsed
            for index, file_name in enumerate(self.config.images):
                if stem_of(file_name) == stem and self.is_stack(index):
                    if z >= self.depth(index):
                        raise WorkspaceError(
                            f"{file_name} has slices 1..{self.depth(index)}, not {z + 1}"
                        )
                    return index, z
        for index, file_name in enumerate(self.config.images):
            if stem_of(file_name) == name and not self.is_stack(index):
                return index, 0
        raise WorkspaceError(f"project {self.config.name} has no image or slice {name!r}")

    def read_slice(
        self, index: int, z: int = 0, *, max_pixels: int = DEFAULT_MAX_PIXELS
    ) -> np.ndarray:
        """Slice ``z`` of item ``index`` as HxWx3 uint8 RGB (z = 0 for a plain image).

        Every slice of a deep (16-bit, float) stack is mapped to 8 bits through one
        window (:func:`cluster.io.stacks.stack_window`, found once and kept), so a material
        looks the same on every slice.

        Raises:
            cluster.io.image_limits.ImageReadError: no such slice, or it cannot be read.
        """
        path = self.image_path(index)
        window = None
        if self.is_stack(index):
            if index not in self._windows:
                self._windows[index] = stack_window(path, max_pixels=max_pixels)
            window = self._windows[index]
        if not path.is_dir():
            return read_stack_slice(path, z, max_pixels=max_pixels, window=window)
        files = self._slice_folder(index)
        if not 0 <= z < len(files):
            raise ImageReadError(path, f"slice {z + 1} out of range 1..{len(files)}")
        return read_image(files[z], max_pixels=max_pixels, window=window)

    def _slice_folder(self, index: int) -> list[Path]:
        """The slice files of slice folder ``index`` (listing checks every slice: once)."""
        if index not in self._slice_files:
            self._slice_files[index] = list_slice_files(self.image_path(index))
        return self._slice_files[index]

    def read_named(self, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """The image of a slice name or plain stem (see :meth:`locate`), HxWx3 uint8."""
        index, z = self.locate(name)
        return self.read_slice(index, z, max_pixels=max_pixels)
