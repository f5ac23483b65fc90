"""The bench's inputs: images paired with ground-truth masks by file stem, and a test split."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cluster.io.image_limits import ImageReadError
from cluster.io.images import list_images, read_mask
from rptui.errors import UserError


@dataclass(frozen=True)
class ImagePair:
    """One image file and its mask file (8-bit, foreground > 0)."""

    stem: str
    image: Path
    mask: Path


def _by_stem(folder: Path, what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise UserError(f"{what} folder {folder} does not exist")
    files, _ = list_images(folder)
    found: dict[str, Path] = {}
    for path in files:
        if path.stem in found:
            raise UserError(f"{what} folder {folder} has two files with stem {path.stem!r}")
        found[path.stem] = path
    return found


def pair_folders(images_dir: Path, masks_dir: Path) -> list[ImagePair]:
    """Pair every image with the mask of the same stem, sorted by stem.

    Raises:
        UserError: a folder is missing or empty, or an image has no mask (named).
    """
    images = _by_stem(Path(images_dir), "images")
    masks = _by_stem(Path(masks_dir), "masks")
    if not images:
        raise UserError(f"images folder {images_dir} has no images")
    missing = sorted(stem for stem in images if stem not in masks)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise UserError(f"no mask for image {images[missing[0]].name} in {masks_dir}{more}")
    return [ImagePair(stem, images[stem], masks[stem]) for stem in sorted(images)]


def load_truth(pair: ImagePair) -> np.ndarray:
    """The mask of a pair as HxW bool (any value > 0 is foreground: 0/1 and 0/255 alike).

    Raises:
        UserError: the mask cannot be read (named).
    """
    try:
        return read_mask(pair.mask, kind="binary") > 0
    except ImageReadError as error:
        raise UserError(f"cannot read mask {pair.mask}: {error}") from error


def check_masks(pairs: list[ImagePair]) -> None:
    """Read every mask once so a bad one stops the run before it starts (UserError)."""
    for pair in pairs:
        load_truth(pair)


def split_test(
    pairs: list[ImagePair], *, fraction: float, seed: int
) -> tuple[list[ImagePair], list[ImagePair]]:
    """(annotation pairs, test pairs): a seeded random ``fraction`` held out for testing."""
    if not 0.0 < fraction < 1.0:
        raise UserError(f"--test-fraction must lie between 0 and 1, got {fraction}")
    count = round(fraction * len(pairs))
    if count < 1 or count >= len(pairs):
        raise UserError(
            f"--test-fraction {fraction} of {len(pairs)} images leaves no test or no "
            "annotation images"
        )
    chosen = set(random.Random(seed).sample(range(len(pairs)), count))
    train = [pair for index, pair in enumerate(pairs) if index not in chosen]
    test = [pair for index, pair in enumerate(pairs) if index in chosen]
    return train, test
