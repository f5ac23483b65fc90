"""What the review session keeps per class and per slice: brushes, masks, stack positions.

Multi-class projects paint label ``k + 1`` for foreground class ``k`` and keep their masks
as class-index label PNGs; stacks keep one annotation per slice while open and remember
the slice the user left (``settings.stack_slices``: {stem: 1-based slice}; only stacks
get an entry, so plain-image projects keep their project.json as it was).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from cluster.io.image_limits import ImageReadError, opened_image
from cluster.io.images import TIFF_SUFFIXES, encode_png, read_mask
from rptui.store.annotation import BINARY_CLASSES, Annotation
from rptui.store.project import Project
from rptui.store.settings import ProjectSettings

MASK_WHITE = 255
BINARY_BRUSH_NAMES = {FOREGROUND: "foreground", BACKGROUND: "background", UNLABELLED: "eraser"}


@dataclass
class SliceState:
    """One slice of the open item: its labels (with undo), mask shown, time spent."""

    annotation: Annotation
    segmentation: np.ndarray | None = None
    segmentation_version: int | None = None
    seconds: float = 0.0


def brush_name(value: int, classes: tuple[str, ...]) -> str:
    """What the status line calls the brush painting ``value`` (a class name, multi-class)."""
    if len(classes) == BINARY_CLASSES or value < FOREGROUND:
        return BINARY_BRUSH_NAMES.get(value, BINARY_BRUSH_NAMES[FOREGROUND])
    return classes[value - 1]


def remembered_slice(settings: ProjectSettings, stem: str, depth: int) -> int:
    """The 0-based slice of stack ``stem`` the user left (0 when none or out of range)."""
    number = settings.stack_slices.get(stem)
    if number is None or not 1 <= number <= depth:
        return 0
    return number - 1


def remember_slice(settings: ProjectSettings, stem: str, z: int) -> None:
    """Keep slice ``z`` (0-based) as where the user is in stack ``stem``."""
    settings.stack_slices[stem] = z + 1


def encode_mask(mask: np.ndarray, *, classes: int) -> bytes:
    """A mask file: binary 0/255 (RootPainter style), else the class indices 0..K-1."""
    mask = np.asarray(mask, np.uint8)
    if classes == BINARY_CLASSES:
        return encode_png((mask > 0).astype(np.uint8) * MASK_WHITE)
    return encode_png(mask)


def as_shown_mask(mask: np.ndarray, *, classes: int) -> np.ndarray:
    """A segmenter's mask as the app keeps it: 0/1 (binary) or class indices clipped to K-1."""
    mask = np.asarray(mask)
    if classes == BINARY_CLASSES:
        return (mask > 0).astype(np.uint8)
    return np.clip(mask, 0, classes - 1).astype(np.uint8)


def read_shown_mask(path: Path, *, classes: int) -> np.ndarray:
    """A saved mask file as :func:`as_shown_mask` gives it.

    Raises:
        OSError, ValueError: the file cannot be read, or a multi-class mask holds a value
            that is no class.
    """
    try:
        if classes == BINARY_CLASSES:
            return read_mask(path, kind="binary")
        with opened_image(path) as image:
            if image.mode != "L":
                raise ValueError(f"{path}: a class mask must be 8-bit grey, not mode {image.mode}")
            mask = np.array(image, dtype=np.uint8)
    except ImageReadError as error:
        raise ValueError(str(error)) from error
    if mask.size and int(mask.max()) >= classes:
        raise ValueError(f"{path}: value {int(mask.max())} is no class of {classes}")
    return mask


def may_hold_stacks(project: Project) -> bool:
    """Whether a project's items may be stacks (slice folders or TIFFs; no file is opened)."""
    return any(
        Path(name).suffix.lower() in TIFF_SUFFIXES or project.image_path(i).is_dir()
        for i, name in enumerate(project.config.images)
    )


def uses_stack_keys(project: Project) -> bool:
    """Whether the slice keys are shown: multi-class (CT) projects and those with stacks."""
    return project.config.n_classes > BINARY_CLASSES or may_hold_stacks(project)
