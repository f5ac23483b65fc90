"""Dataset creation: a folder of images, sampled and split into tiles of a useful size.

Big images are cut into a grid of pieces close to ``target_size`` square (at least
``min_size`` on each side); images too small to split are kept whole. Every output is
an 8-bit RGB PNG as :func:`cluster.io.images.read_image` decodes it (orientation applied,
deep images windowed), so what the user annotates is exactly what the model sees.
A bad image is reported and skipped; it never aborts the run.

Stacks (a multi-page TIFF, or a subfolder of numbered slices) are never cut: they are
copied whole, byte for byte (a slice folder as its slice files), so every slice keeps
its depth and full bit depth.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cluster.io.atomic import TEMP_SUFFIX, write_bytes_atomic
from cluster.io.images import (
    TIFF_SUFFIXES,
    ImageReadError,
    ImageTooLargeError,
    encode_png,
    read_image,
)
from cluster.io.stacks import list_items, list_slice_files, stack_depth
from rptui.errors import UserError
from rptui.store.paths import WorkspaceError, validate_name

logger = logging.getLogger(__name__)

DEFAULT_TARGET_SIZE = 750
DEFAULT_MIN_SIZE = 600
PNG_COMPRESS_LEVEL = 4
# Larger images are refused before decoding: one of 200 M pixels peaks near 2 GB (RGB).
MAX_SOURCE_PIXELS = 200_000_000
TOO_LARGE_ADVICE = "split it into smaller files first"
OUTPUT_SUFFIX = ".png"

Progress = Callable[[int, int], None]


class DatasetError(UserError):
    """The dataset cannot be created as asked (bad source, destination not empty...)."""


@dataclass
class DatasetReport:
    """What :func:`create_dataset` did."""

    written: list[Path] = field(default_factory=list)  # files, stack TIFFs, slice folders
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (source file, reason)
    source_count: int = 0  # image files found in the source folder
    used_count: int = 0  # images chosen (all, or the sample)

    def summary(self) -> str:
        """One line for the command line."""
        return (
            f"{len(self.written)} files written from {self.used_count} of "
            f"{self.source_count} images; {len(self.skipped)} skipped"
        )


def choose_grid(
    height: int,
    width: int,
    *,
    target_size: int = DEFAULT_TARGET_SIZE,
    min_size: int = DEFAULT_MIN_SIZE,
) -> tuple[int, int]:
    """The grid (rows, cols) to cut an image into.

    Every grid whose pieces are at least ``min_size`` px on each side is scored by
    |aspect - 1| (aspect = longer / shorter piece side) plus |piece area - target²|,
    each term divided by its largest value over the candidates; the lowest score wins.
    An image too small to split gives (1, 1): it is kept whole.
    """
    if target_size <= 0 or min_size <= 0:
        raise ValueError("target_size and min_size must be positive")
    max_rows, max_cols = height // min_size, width // min_size
    if max_rows < 1 or max_cols < 1:
        return (1, 1)
    grids = [(r, c) for r in range(1, max_rows + 1) for c in range(1, max_cols + 1)]
    piece_h = np.array([height / r for r, _ in grids])
    piece_w = np.array([width / c for _, c in grids])
    aspect_term = np.maximum(piece_h, piece_w) / np.minimum(piece_h, piece_w) - 1.0
    area_term = np.abs(piece_h * piece_w - float(target_size) ** 2)
    score = np.zeros(len(grids))
    for term in (aspect_term, area_term):
        largest = term.max()
        if largest > 0:
            score += term / largest
    return grids[int(np.argmin(score))]  # ties: the first, i.e. the fewest pieces


def grid_boxes(
    height: int, width: int, rows: int, cols: int
) -> list[tuple[int, int, int, int, int, int]]:
    """Pieces of a rows x cols grid as (row, col, top, bottom, left, right)."""
    row_edges = [round(i * height / rows) for i in range(rows + 1)]
    col_edges = [round(j * width / cols) for j in range(cols + 1)]
    return [
        (r, c, row_edges[r], row_edges[r + 1], col_edges[c], col_edges[c + 1])
        for r in range(rows)
        for c in range(cols)
    ]


def output_stems(paths: Sequence[Path]) -> dict[Path, str]:
    """A unique output stem for each source file, stable for a given folder listing.

    Files whose stems collide (``a.png`` and ``a.jpg``; compared ignoring case, as some
    file systems do) get their suffix appended (``a_png``, ``a_jpg``); a number is added
    if that still collides.
    """
    counts: dict[str, int] = {}
    for path in paths:
        counts[path.stem.lower()] = counts.get(path.stem.lower(), 0) + 1
    taken: set[str] = {stem for stem, n in counts.items() if n == 1}
    stems: dict[Path, str] = {}
    for path in paths:
        stem = path.stem
        if counts[stem.lower()] > 1:
            candidate = f"{stem}_{path.suffix.lstrip('.').lower()}"
            number = 2
            while candidate.lower() in taken:
                candidate = f"{stem}_{path.suffix.lstrip('.').lower()}{number}"
                number += 1
            taken.add(candidate.lower())
            stem = candidate
        stems[path] = stem
    return stems


def unsafe_name(name: str) -> str:
    """Why a file name cannot be a dataset item (a control character in it...); '' if it can."""
    try:
        validate_name(name, what="file name")
    except WorkspaceError as error:
        return f"{error}: rename the file"
    return ""


def _check_destination(destination: Path) -> None:
    if destination.exists():
        if not destination.is_dir():
            raise DatasetError(f"destination is not a folder: {destination}")
        if any(destination.iterdir()):
            raise DatasetError(f"destination is not empty: {destination}")


def _pick_pieces(
    boxes: list[tuple[int, int, int, int, int, int]],
    tiles_per_image: int | None,
    *,
    seed: int,
    name: str,
) -> list[tuple[int, int, int, int, int, int]]:
    if tiles_per_image is None or tiles_per_image >= len(boxes):
        return boxes
    # Seeded by the file name too, so one image's pieces do not depend on the others.
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    chosen = np.sort(rng.choice(len(boxes), size=tiles_per_image, replace=False))
    return [boxes[i] for i in chosen]


def create_dataset(
    source: Path,
    destination: Path,
    *,
    sample: int | None = None,
    tiles_per_image: int | None = None,
    target_size: int = DEFAULT_TARGET_SIZE,
    min_size: int = DEFAULT_MIN_SIZE,
    seed: int = 0,
    max_pixels: int = MAX_SOURCE_PIXELS,
    progress: Progress | None = None,
) -> DatasetReport:
    """Create a dataset folder from the images in ``source``.

    Args:
        source: folder of images; its subfolders of numbered slices are stacks.
        destination: new or empty folder for the dataset.
        sample: use a random sample of this many images (seeded); None: all.
        tiles_per_image: keep at most this many random pieces of each split image.
        target_size, min_size: see :func:`choose_grid`.
        seed: seeds the image sample and the choice of pieces.
        max_pixels: skip (and report) images with more pixels, before decoding them.
        progress: called as ``progress(done, total)`` after each image.

    Raises:
        DatasetError: the source is not a folder or has no images, the destination is
            not empty, or an option is out of range.
    """
    source, destination = Path(source), Path(destination)
    if not source.is_dir():
        raise DatasetError(f"source is not a folder: {source}")
    if sample is not None and sample < 1:
        raise DatasetError(f"sample must be at least 1, got {sample}")
    if tiles_per_image is not None and tiles_per_image < 1:
        raise DatasetError(f"tiles per image must be at least 1, got {tiles_per_image}")
    if min_size < 1 or target_size < min_size:
        raise DatasetError(f"need 1 <= min size ({min_size}) <= target size ({target_size})")
    _check_destination(destination)
    images, not_images = list_items(source)
    not_images += [(path, why) for path in images if (why := unsafe_name(path.name))]
    images = [path for path in images if not unsafe_name(path.name)]
    if not images:
        raise DatasetError(f"no images (JPEG, PNG, TIFF) in {source}")
    stems = output_stems(images)
    chosen = images
    if sample is not None and sample < len(images):
        rng = np.random.default_rng(seed)
        chosen = [images[i] for i in np.sort(rng.choice(len(images), sample, replace=False))]
    report = DatasetReport(
        skipped=list(not_images), source_count=len(images), used_count=len(chosen)
    )
    destination.mkdir(parents=True, exist_ok=True)
    for done, path in enumerate(chosen, start=1):
        image: np.ndarray | None = None
        try:
            if _is_stack(path):
                report.written.append(_copy_stack(path, destination, stems[path]))
            else:
                image = read_image(path, max_pixels=max_pixels)
        except ImageTooLargeError as exc:
            logger.warning("skipping %s", exc)
            report.skipped.append((path, f"{exc.reason}; {TOO_LARGE_ADVICE}"))
        except ImageReadError as exc:
            logger.warning("skipping %s", exc)
            report.skipped.append((path, exc.reason))
        except OSError as exc:  # a stack that could not be copied
            logger.warning("skipping %s: %s", path, exc)
            report.skipped.append((path, f"cannot copy: {exc}"))
        if image is not None:
            report.written.extend(
                _write_pieces(
                    image,
                    destination,
                    stems[path],
                    tiles_per_image=tiles_per_image,
                    target_size=target_size,
                    min_size=min_size,
                    seed=seed,
                )
            )
        if progress is not None:
            progress(done, len(chosen))
    logger.info("dataset %s: %s", destination, report.summary())
    return report


def _is_stack(path: Path) -> bool:
    """Whether a source item is a stack (a slice folder or a multi-page TIFF).

    Raises:
        ImageReadError: a multi-page TIFF whose pages differ in size.
    """
    if path.is_dir():
        return True
    return path.suffix.lower() in TIFF_SUFFIXES and stack_depth(path) > 1


def _copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically, streaming (stacks can be gigabytes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent
    )
    os.close(fd)
    try:
        shutil.copyfile(source, tmp_name)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _copy_stack(path: Path, destination: Path, stem: str) -> Path:
    """Copy a stack whole into ``destination``; returns the TIFF or folder written."""
    name = (path.name if stem == path.stem else stem) if path.is_dir() else stem + path.suffix
    target = destination / name
    number = 2
    while target.exists():
        target = destination / f"{name}-{number}"
        number += 1
    if not path.is_dir():
        _copy_file(path, target)
        return target
    for slice_file in list_slice_files(path):
        _copy_file(slice_file, target / slice_file.name)
    return target


def _free_path(destination: Path, name: str) -> Path:
    """``name`` in ``destination``, numbered if this run already wrote that name.

    Only reached when a source name looks like another image's piece name (``a_0_1``
    kept whole beside a split ``a``); the destination started empty.
    """
    target = destination / f"{name}{OUTPUT_SUFFIX}"
    number = 2
    while target.exists():
        target = destination / f"{name}-{number}{OUTPUT_SUFFIX}"
        number += 1
    return target


def _write_pieces(
    image: np.ndarray,
    destination: Path,
    stem: str,
    *,
    tiles_per_image: int | None,
    target_size: int,
    min_size: int,
    seed: int,
) -> list[Path]:
    height, width = image.shape[:2]
    rows, cols = choose_grid(height, width, target_size=target_size, min_size=min_size)
    if rows * cols == 1:
        target = _free_path(destination, stem)
        write_bytes_atomic(target, encode_png(image, compress_level=PNG_COMPRESS_LEVEL))
        return [target]
    written: list[Path] = []
    boxes = _pick_pieces(
        grid_boxes(height, width, rows, cols), tiles_per_image, seed=seed, name=stem
    )
    for row, col, top, bottom, left, right in boxes:
        target = _free_path(destination, f"{stem}_{row}_{col}")
        piece = image[top:bottom, left:right]
        write_bytes_atomic(target, encode_png(piece, compress_level=PNG_COMPRESS_LEVEL))
        written.append(target)
    return written
