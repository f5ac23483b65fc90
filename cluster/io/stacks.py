"""Stacks: multi-page TIFFs and folders of numbered slices, read one slice at a time.

A dataset item is an image (one slice), a multi-page TIFF (one slice per page) or a
subfolder of slice images in number order. Deep stacks (16-bit, float) are mapped to 8
bits through one intensity window for the whole stack, so a material looks the same on
every slice.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from cluster.io.image_limits import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    check_file,
    describe,
    pillow_limit_off,
)
from cluster.io.images import (
    IMAGE_SUFFIXES,
    TIFF_SUFFIXES,
    list_images,
    page_count,
    read_array,
    read_image,
)
from cluster.io.intensity import WINDOW_PERCENTILES, colour_values, window_of, window_sample
from cluster.io.tiff_pages import tiff_page

# Slices read to choose one intensity window for a deep stack (see stack_window).
STACK_WINDOW_SAMPLES = 8
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
_NUMBER_WIDTH = 32  # digits compared as zero-padded text, so any length sorts numerically


# Slice z of a stack with stem S is named S.z0001 (numbered from 1, at least four digits).
SLICE_NAME_FORMAT = "{stem}.z{number:04d}"
_SLICE_NAME = re.compile(r"^(?P<stem>.+)\.z(?P<number>\d{4,})$")


def slice_name(stem: str, z: int) -> str:
    """The name of slice ``z`` (0-based) of the stack ``stem``: ``scan.z0003`` for z = 2."""
    if z < 0:
        raise ValueError(f"slice index must be 0 or more, got {z}")
    return SLICE_NAME_FORMAT.format(stem=stem, number=z + 1)


def parse_slice_name(name: str) -> tuple[str, int] | None:
    """(stack stem, 0-based z) of a slice name such as ``scan.z0003``; None otherwise."""
    match = _SLICE_NAME.match(name)
    if match is None or int(match.group("number")) < 1:
        return None
    return match.group("stem"), int(match.group("number")) - 1


def slice_sort_key(path: Path) -> tuple[int, str, str]:
    """Natural order of slice files: by the last number in the name (slice_2 < slice_10).

    Names without a number come after the numbered ones, in name order.
    """
    match = _LAST_NUMBER.search(path.stem)
    if match is None:
        return (1, "", path.name)
    return (0, match.group(1).lstrip("0").rjust(_NUMBER_WIDTH, "0"), path.name)


def image_size(path: Path | str) -> tuple[int, int]:
    """(height, width) of an image file's first page, from its header only."""
    path = Path(path)
    check_file(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        with contextlib.suppress(Exception), tifffile.TiffFile(path) as tif:
            if len(tif.pages):
                page = tif.pages.first
                return int(page.imagelength), int(page.imagewidth)
    try:
        with pillow_limit_off(), Image.open(path) as image:
            return int(image.height), int(image.width)
    except Exception as exc:
        raise ImageReadError(path, describe(exc)) from exc


def _inside(entry: Path, folder: Path) -> bool:
    """Whether ``entry`` (after following links) lies inside ``folder``."""
    try:
        return entry.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def list_slice_files(folder: Path | str) -> list[Path]:
    """The slice images of a slice folder in natural order (see :func:`slice_sort_key`).

    Hidden files, subfolders and non-image files are ignored.

    Raises:
        ImageReadError: naming the folder when it holds no image files, or naming the
            slice that links outside the folder, cannot be read, or differs in size from
            the first slice.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(folder, "not a folder of slices")
    slices = sorted(
        (
            entry
            for entry in folder.iterdir()
            if not entry.name.startswith(".")
            and entry.suffix.lower() in IMAGE_SUFFIXES
            and not entry.is_dir()
        ),
        key=slice_sort_key,
    )
    if not slices:
        raise ImageReadError(folder, "a slice folder with no image files")
    first_size: tuple[int, int] | None = None
    for entry in slices:
        if not _inside(entry, folder):
            raise ImageReadError(entry, "a slice that links outside its stack folder")
        size = image_size(entry)
        if first_size is None:
            first_size = size
        elif size != first_size:
            raise ImageReadError(
                entry,
                f"slice is {size[1]}x{size[0]} but {slices[0].name} is "
                f"{first_size[1]}x{first_size[0]}; every slice of a stack must be the same size",
            )
    return slices


class StackShapeError(ImageReadError):
    """A multi-page TIFF whose pages differ in size: not a stack, and not one image."""


def check_pages_alike(path: Path) -> None:
    """Raise :class:`StackShapeError` unless every page of a TIFF has the first's size
    (read from the page headers only)."""
    try:
        with tifffile.TiffFile(path) as tif:
            pages = [tiff_page(page) for page in tif.pages]
            sizes = [(int(page.imagelength), int(page.imagewidth)) for page in pages]
    except Exception:  # not readable by tifffile: the pages are checked when read
        return
    for number, size in enumerate(sizes[1:], start=2):
        if size != sizes[0]:
            raise StackShapeError(
                path,
                f"page {number} is {size[1]}x{size[0]} but page 1 is {sizes[0][1]}x"
                f"{sizes[0][0]}: a stack's pages must be the same size (save the pages as "
                "separate images to segment them one by one)",
            )


def stack_depth(path: Path | str) -> int:
    """Slices in a dataset item: 1 for an image, its pages for a TIFF, its files for a folder.

    Only TIFF files count their pages (an animated WebP is read as one image).

    Raises:
        ImageReadError: the item cannot be read; :class:`StackShapeError` when a TIFF's
            pages differ in size.
    """
    path = Path(path)
    if path.is_dir():
        return len(list_slice_files(path))
    if path.suffix.lower() in TIFF_SUFFIXES:
        depth = page_count(path)
        if depth > 1:
            check_pages_alike(path)
        return depth
    check_file(path)
    return 1


def _slice_source(path: Path, z: int) -> tuple[Path, int]:
    """The file and page holding slice ``z`` of a dataset item."""
    if path.is_dir():
        slices = list_slice_files(path)
        if not 0 <= z < len(slices):
            raise ImageReadError(path, f"slice {z + 1} out of range 1..{len(slices)}")
        return slices[z], 0
    if path.suffix.lower() not in TIFF_SUFFIXES and z != 0:
        raise ImageReadError(path, f"slice {z + 1} out of range 1..1 (not a stack)")
    return path, z


def read_stack_slice(
    path: Path | str,
    z: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    window: tuple[float, float] | None = None,
) -> np.ndarray:
    """Slice ``z`` (0-based) of a dataset item as HxWx3 uint8 RGB (see :func:`read_image`).

    ``path`` is an image (only z = 0), a multi-page TIFF or a folder of slices; pass
    the stack's :func:`stack_window` as ``window`` so every slice of a deep (16-bit,
    float) stack is mapped to 8 bits alike.

    Raises:
        ImageReadError: ``z`` out of range, or the slice cannot be read; names the file.
    """
    source, page = _slice_source(Path(path), z)
    return read_image(source, page=page, max_pixels=max_pixels, window=window)


def stack_window(
    path: Path | str,
    *,
    samples: int = STACK_WINDOW_SAMPLES,
    percentiles: tuple[float, float] = WINDOW_PERCENTILES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[float, float] | None:
    """One intensity window for a whole stack, from ``samples`` evenly spaced slices.

    The window runs between the ``percentiles`` of their values together. None when the
    item is 8-bit (shown as it is) or every sampled value is the same or not finite.
    """
    path = Path(path)
    depth = stack_depth(path)
    chosen = np.unique(np.linspace(0, depth - 1, min(samples, depth)).round().astype(int))
    values: list[np.ndarray] = []
    for z in chosen:
        source, page = _slice_source(path, int(z))
        array = colour_values(read_array(source, page, max_pixels))
        if array.dtype in (np.uint8, np.bool_):
            return None
        values.append(window_sample(array))
    window = window_of(np.concatenate(values), percentiles)
    return window if window is not None and window[1] > window[0] else None


def list_items(folder: Path | str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Dataset items in ``folder`` (sorted by name) and the entries skipped, with why.

    Like :func:`list_images`, but a subfolder holding numbered slice images is an item
    (a stack) when its slices pass :func:`list_slice_files`; other subfolders, and
    links to folders (never followed), are reported with the reason. Files are judged by
    suffix only.
    """
    files, skipped = list_images(folder)
    items = list(files)
    others: list[tuple[Path, str]] = []
    for entry, why in skipped:
        if not entry.is_dir():
            others.append((entry, why))
            continue
        if entry.is_symlink():
            others.append((entry, "a link to a folder (links to folders are not followed)"))
            continue
        try:
            list_slice_files(entry)
        except ImageReadError as exc:
            others.append((entry, f"folder, not a stack of slices: {exc}"))
        else:
            items.append(entry)
    items.sort(key=lambda p: p.name)
    return items, others
