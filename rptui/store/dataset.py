"""Dataset creation: a folder of images, sampled and split into tiles of a useful size.

Big images are cut into a grid of pieces close to ``target_size`` square (at least
``min_size`` on each side); images too small to split are kept whole. Every output is
an 8-bit RGB PNG as :func:`cluster.io.images.read_image` decodes it (orientation applied,
deep images windowed), so what the user annotates is exactly what the model sees.
A bad image is reported and skipped; it never aborts the run.

Stacks (a multi-page TIFF, or a subfolder of numbered slices) are never cut: they are
copied whole, byte for byte (a slice folder as its slice files), so every slice keeps
its depth and full bit depth (:mod:`rptui.store.dataset_stacks`). How images are cut is
:mod:`rptui.store.dataset_pieces`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cluster.io.image_limits import ImageReadError, ImageTooLargeError
from cluster.io.images import read_image
from cluster.io.stacks import list_items
from rptui.errors import UserError
from rptui.store.dataset_pieces import DEFAULT_MIN_SIZE, DEFAULT_TARGET_SIZE, write_pieces
from rptui.store.dataset_stacks import copy_stack, is_stack
from rptui.store.paths import WorkspaceError, validate_name

logger = logging.getLogger(__name__)

# Larger images are refused before decoding: one of 200 M pixels peaks near 2 GB (RGB).
MAX_SOURCE_PIXELS = 200_000_000
TOO_LARGE_ADVICE = "split it into smaller files first"

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
            if is_stack(path):
                report.written.append(copy_stack(path, destination, stems[path]))
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
                write_pieces(
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
