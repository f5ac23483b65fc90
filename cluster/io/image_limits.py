"""Opening image files safely: our pixel limit, and errors that name the file and why.

Every image or mask file (or its bytes) is opened through :func:`opened_image` or checked
by :func:`check_file` and :func:`check_size`, so our pixel limit applies everywhere and
Pillow's lower one nowhere.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

# Our own limit on decoded pixels (height x width); Pillow's is switched off for our reads.
DEFAULT_MAX_PIXELS = 400_000_000

_PIL_LIMIT_LOCK = threading.RLock()  # re-entered by nested reads


class ImageReadError(Exception):
    """An image or mask file could not be read; the message names the file and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


class ImageTooLargeError(ImageReadError):
    """An image with more pixels than the reader was allowed to decode."""


@contextlib.contextmanager
def pillow_limit_off() -> Iterator[None]:
    """Switch off Pillow's decompression-bomb check (we enforce ``max_pixels`` ourselves)."""
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@contextlib.contextmanager
def opened_image(
    source: Path | str | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: Path | str | None = None,
) -> Iterator[Image.Image]:
    """A Pillow image of a file (or of a file's bytes), opened under our pixel limit.

    ``name`` names bytes in errors. Pixels are decoded lazily, inside the ``with``.

    Raises:
        ImageReadError: the file is missing or empty, is not an image, or has more
            than ``max_pixels`` pixels.
    """
    where = Path(name if name is not None else "image data")
    if not isinstance(source, bytes):
        where = Path(source)
        check_file(where)
    with pillow_limit_off():
        try:
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else where)
        except Exception as exc:  # Pillow raises many kinds for data it cannot parse
            raise ImageReadError(where, describe(exc)) from exc
        with image:
            check_size(where, image.height, image.width, max_pixels)
            yield image


def check_file(path: Path) -> None:
    if not path.exists():
        raise ImageReadError(path, "no such file")
    if not path.is_file():
        raise ImageReadError(path, "not a file")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "zero-byte file")


def check_size(path: Path, height: int, width: int, max_pixels: int) -> None:
    if height <= 0 or width <= 0:
        raise ImageReadError(path, f"empty image ({width}x{height})")
    if height * width > max_pixels:
        raise ImageTooLargeError(
            path,
            f"too large: {width}x{height} = {height * width:,} pixels exceeds the limit "
            f"of {max_pixels:,}",
        )


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "truncated" in lowered or isinstance(exc, EOFError):
        return f"truncated or incomplete file ({text})"
    if "cannot identify image file" in lowered:
        return "not an image, or an unsupported format"
    return f"corrupt or unsupported image ({type(exc).__name__}: {text})"
