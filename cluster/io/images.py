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
:class:`ImageReadError` naming the file and the reason. Every image or mask file (or its
bytes) is opened through this module (:func:`opened_image` where Pillow's own object is
wanted), so our pixel limit applies everywhere and Pillow's lower one nowhere.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import tifffile
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
)
TIFF_SUFFIXES: frozenset[str] = frozenset({".tif", ".tiff"})
# Our own limit on decoded pixels (height x width); Pillow's is switched off for our reads.
DEFAULT_MAX_PIXELS = 400_000_000
# Percentiles of the intensity window used for images deeper than 8 bits.
WINDOW_PERCENTILES = (0.5, 99.5)
# Values sampled to estimate the window (a strided sample keeps big images fast).
WINDOW_SAMPLE_SIZE = 1_000_000
# A mask whose non-zero pixels cover more than this share is black-on-white (RhizoVision).
RVE_NONZERO_SHARE = 0.5

EXIF_ORIENTATION = 0x0112  # the EXIF tag saying how to rotate/flip the stored pixels

MaskKind = Literal["auto", "binary", "rootpainter", "rve"]

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
            _check_size(where, image.height, image.width, max_pixels)
            yield image


def check_file(path: Path) -> None:
    if not path.exists():
        raise ImageReadError(path, "no such file")
    if not path.is_file():
        raise ImageReadError(path, "not a file")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "zero-byte file")


def _check_size(path: Path, height: int, width: int, max_pixels: int) -> None:
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


def window_sample(array: np.ndarray) -> np.ndarray:
    """A strided sample of the finite values of ``array``, as float64."""
    flat = array.reshape(-1)
    step = max(1, flat.size // WINDOW_SAMPLE_SIZE)
    sample = flat[::step].astype(np.float64)
    return sample[np.isfinite(sample)]


def window_of(sample: np.ndarray, percentiles: tuple[float, float]) -> tuple[float, float] | None:
    """The (low, high) window of a sample: its percentiles, else its range; None if empty."""
    if sample.size == 0:
        return None
    low, high = np.percentile(sample, percentiles)
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    return float(low), float(high)


def window_to_uint8(
    array: np.ndarray,
    *,
    percentiles: tuple[float, float] = WINDOW_PERCENTILES,
    window: tuple[float, float] | None = None,
) -> np.ndarray:
    """Map any numeric array to uint8 through a robust intensity window.

    The window runs from the lower to the upper percentile of the finite values of the
    whole array (all channels together, so colours keep their balance), or is
    ``window`` (low, high) when given (one window for every slice of a stack); values
    outside it are clipped. uint8 input is returned unchanged, bool input as 0/255.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * np.uint8(255)
    chosen = window if window is not None else window_of(window_sample(array), percentiles)
    if chosen is None:
        return np.zeros(array.shape, dtype=np.uint8)
    low, high = chosen
    if high <= low:
        # A constant image: black if it is zero, mid-grey otherwise.
        level = 0 if low == 0 else 128
        return np.full(array.shape, level, dtype=np.uint8)
    scaled = (array.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def colour_values(array: np.ndarray) -> np.ndarray:
    """The values shown of a HxW or HxWxC array: grey, or the first three channels."""
    if array.ndim == 2:
        return array
    return array[..., 0] if array.shape[2] in (1, 2) else array[..., :3]  # grey (+ alpha)


def _to_rgb(array: np.ndarray, *, window: tuple[float, float] | None = None) -> np.ndarray:
    """Make HxW, HxWx1..C arrays of any dtype into HxWx3 uint8."""
    values = colour_values(array)
    if values.ndim == 2:
        grey = window_to_uint8(values, window=window)
        out = np.empty((*grey.shape, 3), dtype=np.uint8)
        out[...] = grey[..., None]
        return out
    return np.ascontiguousarray(window_to_uint8(values, window=window))


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
        _check_size(path, image.height, image.width, max_pixels)
        image.load()
        if page == 0 and image.getexif().get(EXIF_ORIENTATION, 1) != 1:
            return _pil_to_array(ImageOps.exif_transpose(image))
        return _pil_to_array(image)


def _cmyk_to_rgb(array: np.ndarray) -> np.ndarray:
    ink = array[..., :4].astype(np.float32) / np.float32(np.iinfo(array.dtype).max)
    rgb = (1.0 - ink[..., :3]) * (1.0 - ink[..., 3:4])
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def tiff_page(page: tifffile.TiffPage | tifffile.TiffFrame) -> tifffile.TiffPage:
    """A TIFF page that has its own tags (size, photometric, description).

    Raises:
        ValueError: ``page`` is a frame, which shares its tags with a key page (tifffile
            reads some pages of LSM files so).
    """
    if not isinstance(page, tifffile.TiffPage):
        raise ValueError(f"TIFF page {page.index} has no tags of its own")
    return page


def _read_tiff(path: Path, page: int, max_pixels: int) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        pages = tif.pages
        if len(pages) == 0:
            raise ValueError("no readable pages (corrupt TIFF)")
        if not 0 <= page < len(pages):
            raise ImageReadError(path, f"page {page} out of range (the file has {len(pages)})")
        chosen = tiff_page(pages[page])
        axes = chosen.axes
        height = chosen.imagelength
        width = chosen.imagewidth
        _check_size(path, height, width, max_pixels)
        array = chosen.asarray()
        photometric = chosen.photometric
    if array.ndim == 3 and axes.startswith("S"):  # planar: samples first
        array = np.moveaxis(array, 0, -1)
    array = np.squeeze(array) if array.ndim > 3 else array
    if array.ndim not in (2, 3):
        raise ImageReadError(path, f"unsupported TIFF layout {axes} {array.shape}")
    separated = photometric == tifffile.PHOTOMETRIC.SEPARATED
    if separated and array.ndim == 3 and array.shape[2] >= 4 and array.dtype.kind == "u":
        return _cmyk_to_rgb(array)
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE and array.ndim == 2:
        if array.dtype == bool:
            array = ~array
        elif np.issubdtype(array.dtype, np.integer):
            array = np.iinfo(array.dtype).max - array
        else:
            array = -array
    return array


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
        return _to_rgb(array, window=window)
    except Exception as exc:
        raise ImageReadError(path, f"unsupported pixel layout {array.shape} {array.dtype}") from exc


def read_array(path: Path, page: int, max_pixels: int) -> np.ndarray:
    """The decoded pixels of one page, in their own dtype (see :func:`read_image`)."""
    check_file(path)
    array: np.ndarray | None = None
    tiff_error: Exception | None = None
    if path.suffix.lower() in TIFF_SUFFIXES:
        try:
            array = _read_tiff(path, page, max_pixels)
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
