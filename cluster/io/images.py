"""Reading images and masks robustly, whatever format, mode and bit depth they come in.

Every image is returned as HxWx3 uint8 RGB, the one form the model, the canvas and the
measurements use:

- grey (1-bit, 8-bit, 16-bit, float) is repeated into three channels;
- an alpha channel is dropped (colour values kept as they are, not composited), so a
  photo saved as RGBA with odd alpha values still shows every pixel;
- palette, CMYK and YCbCr images are converted to RGB;
- 16-bit, 32-bit and float images are mapped to 0..255 through a robust intensity window
  (the 0.5th to 99.5th percentile of all channels together), so a dim scientific image
  that uses a few hundred of its 65,536 levels stays visible;
- EXIF orientation is applied, so a phone photo is shown the right way up.

Any failure (missing, zero-byte, truncated, corrupt, not an image, too large) raises
:class:`~cluster.io.image_limits.ImageReadError` naming the file and the reason. Every
image or mask file (or its bytes) is opened through this module or
:mod:`cluster.io.image_limits`, so our pixel limit applies everywhere and Pillow's lower
one nowhere; the intensity window is :mod:`cluster.io.intensity`, TIFF pages
:mod:`cluster.io.tiff_pages`.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import tifffile
from PIL import Image, ImageOps

from cluster.io.image_limits import (
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    ImageTooLargeError,
    check_file,
    check_size,
    describe,
    opened_image,
    pillow_limit_off,
)
from cluster.io.intensity import to_rgb
from cluster.io.tiff_pages import read_tiff_page

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
)
TIFF_SUFFIXES: frozenset[str] = frozenset({".tif", ".tiff"})
# A mask whose non-zero pixels cover more than this share is black-on-white (RhizoVision).
RVE_NONZERO_SHARE = 0.5

EXIF_ORIENTATION = 0x0112  # the EXIF tag saying how to rotate/flip the stored pixels

MaskKind = Literal["auto", "binary", "rootpainter", "rve"]


def _pil_to_array(image: Image.Image) -> np.ndarray:
    """A decoded Pillow image as a numpy array ready for :func:`_to_rgb`."""
    mode = image.mode
    if mode == "1":
        return np.asarray(image.convert("L"))
    if mode in ("L", "LA", "RGB", "RGBA", "RGBX", "RGBa", "La"):
        return np.asarray(image)
    if mode in ("P", "PA"):
        return np.asarray(image.convert("RGBA"))
    if mode.startswith("I;16") or mode in ("I", "F"):
        array = np.asarray(image)
        if mode == "I;16B" or array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("="))
        return array
    return np.asarray(image.convert("RGB"))


def _read_pillow(path: Path, page: int, max_pixels: int) -> np.ndarray:
    with pillow_limit_off(), Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
        if not 0 <= page < frames:
            raise ImageReadError(path, f"page {page} out of range (the file has {frames})")
        if page:
            image.seek(page)
        check_size(path, image.height, image.width, max_pixels)
        image.load()
        if page == 0 and image.getexif().get(EXIF_ORIENTATION, 1) != 1:
            return _pil_to_array(ImageOps.exif_transpose(image))
        return _pil_to_array(image)


def page_count(path: Path | str) -> int:
    """Number of pages (frames) in an image file: >1 for multi-page TIFF stacks."""
    path = Path(path)
    check_file(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        with contextlib.suppress(Exception), tifffile.TiffFile(path) as tif:
            if len(tif.pages):
                return len(tif.pages)
    try:
        with pillow_limit_off(), Image.open(path) as image:
            return int(getattr(image, "n_frames", 1))
    except Exception as exc:
        raise ImageReadError(path, describe(exc)) from exc


def read_image(
    path: Path | str,
    *,
    page: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    window: tuple[float, float] | None = None,
) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB.

    Args:
        path: a JPEG, PNG, TIFF, BMP or WebP file.
        page: which page of a multi-page file (see :func:`page_count`).
        max_pixels: refuse images with more pixels than this (memory safety).
        window: (low, high) intensity window for images deeper than 8 bits; None: the
            image's own (see :func:`window_to_uint8`).

    Raises:
        ImageReadError: the file is missing, empty, truncated, corrupt, not an image,
            has no such page, or is larger than ``max_pixels``.
    """
    path = Path(path)
    array = read_array(path, page, max_pixels)
    try:
        return to_rgb(array, window=window)
    except Exception as exc:
        raise ImageReadError(path, f"unsupported pixel layout {array.shape} {array.dtype}") from exc


def read_array(path: Path, page: int, max_pixels: int) -> np.ndarray:
    """The decoded pixels of one page, in their own dtype (see :func:`read_image`)."""
    check_file(path)
    array: np.ndarray | None = None
    tiff_error: Exception | None = None
    if path.suffix.lower() in TIFF_SUFFIXES:
        try:
            array = read_tiff_page(path, page, max_pixels)
        except ImageReadError:
            raise
        except Exception as exc:  # e.g. a compression tifffile cannot decode: try Pillow
            tiff_error = exc
            logger.debug("tifffile could not read %s (%s); trying Pillow", path, exc)
    if array is None:
        try:
            array = _read_pillow(path, page, max_pixels)
        except ImageReadError:
            raise
        except Exception as exc:
            raise ImageReadError(path, describe(tiff_error or exc)) from exc
    return array


def _alpha_or_none(image: Image.Image) -> np.ndarray | None:
    if image.mode in ("P", "PA") and ("transparency" in image.info or image.mode == "PA"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return np.asarray(image)[..., -1]
    return None


def read_mask(
    path: Path | str, *, kind: MaskKind = "auto", max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Read a mask file as HxW uint8 with 1 for foreground and 0 for background.

    Args:
        path: a mask image.
        kind: ``"binary"``: any non-zero value is foreground (0/255, 0/1 and label
            images); ``"rootpainter"``: RootPainter's RGBA segmentation, foreground
            where alpha > 0; ``"rve"``: RhizoVision black objects on white, foreground
            where dark; ``"auto"``: RootPainter when there is a non-opaque alpha
            channel, else RhizoVision when most pixels are non-zero, else binary.
        max_pixels: refuse masks with more pixels than this.
    """
    path = Path(path)
    try:
        with opened_image(path, max_pixels=max_pixels) as image:
            image.load()
            alpha = _alpha_or_none(image)
            grey = _pil_to_array(image)
    except ImageTooLargeError:
        raise
    except Exception as exc:  # Pillow cannot decode it: a TIFF may still be read
        if path.suffix.lower() not in TIFF_SUFFIXES:
            if isinstance(exc, ImageReadError):
                raise
            raise ImageReadError(path, describe(exc)) from exc
        alpha, grey = None, read_array(path, 0, max_pixels)
    if grey.ndim == 3:
        grey = grey[..., :3].max(axis=2) if grey.shape[2] >= 3 else grey[..., 0]
    if kind == "auto":
        if alpha is not None and alpha.min() < 255:
            kind = "rootpainter"
        elif np.count_nonzero(grey) > RVE_NONZERO_SHARE * grey.size:
            kind = "rve"
        else:
            kind = "binary"
    if kind == "rootpainter":
        if alpha is None:
            raise ImageReadError(path, "not a RootPainter segmentation (no alpha channel)")
        return (alpha > 0).astype(np.uint8)
    if kind == "rve":
        half = 128 if grey.dtype == np.uint8 else (float(grey.max()) + 1.0) / 2.0
        return (grey < half).astype(np.uint8)
    if kind == "binary":
        return (grey > 0).astype(np.uint8)
    raise ValueError(f"unknown mask kind {kind!r}")


def encode_png(array: np.ndarray, *, compress_level: int = 6) -> bytes:
    """Encode a HxW (uint8, bool or uint16), HxWx3 or HxWx4 uint8 array as PNG bytes."""
    if array.dtype == bool:
        array = array.astype(np.uint8) * np.uint8(255)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(
        buffer, format="PNG", compress_level=compress_level
    )
    return buffer.getvalue()


def list_images(folder: Path | str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Image files in ``folder`` (sorted by name) and the entries skipped, with why.

    Files are judged by suffix only (none is opened); hidden files are ignored and
    subfolders are reported, not searched.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {folder}")
    images: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            skipped.append((entry, "folder (subfolders are not searched)"))
        elif entry.suffix.lower() in IMAGE_SUFFIXES:
            images.append(entry)
        else:
            skipped.append((entry, f"not an image file type ({entry.suffix or 'no suffix'})"))
    return images, skipped
