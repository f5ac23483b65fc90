"""Mask files in the formats users ask for, as bytes (the writer makes them atomic).

- ``png``: 8-bit single channel, 0 background, 255 foreground for binary models; for a
  multi-class model a label image of class indices 0..K-1 that names its classes in a
  PNG text chunk (``rptui-classes``, JSON).
- ``rootpainter``: RGBA, foreground (0, 255, 255, 178), background transparent.
- ``rve``: RhizoVision Explorer's black roots on white.
- ``npz``: the mask and the foreground probability, compressed numpy arrays.

A stack is always one multi-page TIFF of uint8 label masks, Z pages (binary 0/255,
multi-class 0..K-1), whose description holds the class names (JSON).

Every format can also record the models that made the mask
(:mod:`cluster.io.provenance`): a PNG text chunk, a key of the TIFF description, an
array of the ``.npz``.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import tifffile
from PIL import Image, PngImagePlugin

from cluster.io.image_limits import ImageReadError, opened_image
from cluster.io.images import TIFF_SUFFIXES, encode_png
from cluster.io.provenance import MODELS_KEY, Provenance, from_text

log = logging.getLogger(__name__)

MaskFormat = Literal["png", "rootpainter", "rve", "npz"]
FORMATS: tuple[MaskFormat, ...] = ("png", "rootpainter", "rve", "npz")
ROOTPAINTER_FOREGROUND = (0, 255, 255, 178)
SUFFIXES: dict[str, str] = {"png": ".png", "rootpainter": ".png", "rve": ".png", "npz": ".npz"}
STACK_SUFFIX = ".tif"
CLASSES_KEY = "rptui-classes"  # PNG text chunk / TIFF description key naming the classes
BINARY_ON = 255  # foreground value of a binary mask file
BINARY_CLASSES = 2
BINARY_NAMES = ("background", "foreground")
NPZ_MODELS = "models"  # the .npz array holding the record of the models


def _png_with_text(array: np.ndarray, texts: dict[str, str]) -> bytes:
    """A PNG of ``array`` carrying ``texts`` in text chunks (none empty)."""
    texts = {key: text for key, text in texts.items() if text}
    if not texts:
        return encode_png(array)
    info = PngImagePlugin.PngInfo()
    for key, text in texts.items():
        info.add_text(key, text)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(
        buffer, format="PNG", pnginfo=info, compress_level=6
    )
    return buffer.getvalue()


def encode_mask(
    mask: np.ndarray,
    *,
    fmt: MaskFormat = "png",
    probability: np.ndarray | None = None,
    classes: Sequence[str] = (),
    models: str = "",
) -> bytes:
    """The file content of a 0/1 (or 0..K-1) mask in format ``fmt``.

    ``classes`` are the model's class names (background first); with more than two the
    ``png`` is a label image of class indices, named in a text chunk (so it reads as
    ours). Without them a mask whose values stay within 0/1 is taken as binary.
    ``models`` is the record of the models that made it (:func:`provenance.to_text`).
    """
    if fmt == "png":
        if len(classes) > BINARY_CLASSES:
            names = json.dumps(list(classes))
            return _png_with_text(mask.astype(np.uint8), {CLASSES_KEY: names, MODELS_KEY: models})
        if len(classes) == BINARY_CLASSES or mask.max(initial=0) <= 1:
            names = json.dumps(list(classes or BINARY_NAMES))
            binary = (mask > 0).astype(np.uint8) * BINARY_ON
            return _png_with_text(binary, {CLASSES_KEY: names, MODELS_KEY: models})
        return _png_with_text(mask.astype(np.uint8), {MODELS_KEY: models})
    if fmt == "rootpainter":
        rgba = np.zeros((*mask.shape, 4), np.uint8)
        rgba[mask > 0] = ROOTPAINTER_FOREGROUND
        return _png_with_text(rgba, {MODELS_KEY: models})
    if fmt == "rve":
        return _png_with_text(np.where(mask > 0, 0, 255).astype(np.uint8), {MODELS_KEY: models})
    if fmt == "npz":
        buffer = io.BytesIO()
        arrays = {"mask": mask.astype(np.uint8)}
        if probability is not None:
            arrays["probability"] = probability.astype(np.float16)
        if models:
            arrays[NPZ_MODELS] = np.array(models)
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()
    raise ValueError(f"unknown mask format {fmt!r}; choose one of {', '.join(FORMATS)}")


def encode_label_stack(
    masks: np.ndarray, *, classes: Sequence[str] = (), models: str = ""
) -> bytes:
    """A ZxHxW mask (0/1 or 0..K-1) as a multi-page TIFF: binary 0/255, else class indices;
    its description records the class names and ``models`` (see :func:`encode_mask`)."""
    masks = np.asarray(masks, dtype=np.uint8)
    if masks.ndim != 3:
        raise ValueError(f"a stack mask is Z x H x W, got shape {masks.shape}")
    binary = len(classes) <= BINARY_CLASSES and int(masks.max(initial=0)) <= 1
    pages = masks * np.uint8(BINARY_ON) if binary else masks
    buffer = io.BytesIO()
    record: dict[str, list[str] | str] = {CLASSES_KEY: list(classes)} if classes else {}
    if models:
        record[MODELS_KEY] = models
    description = json.dumps(record) if record else None
    tifffile.imwrite(
        buffer, pages, photometric="minisblack", compression="zlib", description=description
    )
    return buffer.getvalue()


def class_values(values: np.ndarray) -> np.ndarray:
    """Mask file values as class indices: 0/255 (binary) becomes 0/1, labels stay."""
    values = np.asarray(values)
    if int(values.max(initial=0)) == BINARY_ON:
        return (values > 0).astype(np.uint8)
    return values.astype(np.uint8, copy=False)


def _names(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    try:
        content = json.loads(text)
    except ValueError:
        return ()
    if isinstance(content, dict):
        content = content.get(CLASSES_KEY)
    if isinstance(content, list) and all(isinstance(name, str) for name in content):
        return tuple(content)
    return ()


def read_label_stack(path: Path | str) -> tuple[np.ndarray, tuple[str, ...]]:
    """A stack mask file as ZxHxW uint8 class indices, and the class names it records.

    Raises:
        ValueError: the file is not a readable 8-bit single-channel TIFF stack.
    """
    try:
        with tifffile.TiffFile(path) as tif:
            pages = tif.asarray(key=range(len(tif.pages)))
            names = _names(tif.pages.first.description) if len(tif.pages) else ()
    except (OSError, ValueError, tifffile.TiffFileError) as error:
        raise ValueError(f"not a readable TIFF stack ({error})") from error
    if pages.ndim == 2:
        pages = pages[None]
    if pages.ndim != 3 or pages.dtype != np.uint8:
        raise ValueError(f"not a stack of 8-bit label masks ({pages.dtype}, shape {pages.shape})")
    return class_values(pages), names


def recorded_text(path: Path | str, key: str) -> str | None:
    """The text a mask file records under ``key`` (a PNG text chunk, a key of a TIFF's
    description, an ``.npz`` array); None when it records none or cannot be read."""
    path = Path(path)
    try:
        if path.suffix.lower() == SUFFIXES["npz"]:
            with np.load(path, allow_pickle=False) as arrays:
                name = NPZ_MODELS if key == MODELS_KEY else key
                return str(arrays[name]) if name in arrays.files else None
        if path.suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(path) as tif:
                first = tif.pages.first if len(tif.pages) else None
                description = str(getattr(first, "description", "") or "")
            content = json.loads(description) if description else {}
            value = content.get(key) if isinstance(content, dict) else None
            return value if isinstance(value, str) else None
        with opened_image(path) as image:
            value = getattr(image, "text", {}).get(key)
            return value if isinstance(value, str) else None
    except (ImageReadError, OSError, ValueError, KeyError, tifffile.TiffFileError) as error:
        log.debug("no %s in %s: %s", key, path, error)
        return None


def recorded_models(path: Path | str) -> Provenance | None:
    """The models a mask file records as its makers; None when it records none."""
    return from_text(recorded_text(path, MODELS_KEY))


def recorded_classes(path: Path | str) -> tuple[str, ...]:
    """The class names a mask file records (a label PNG's text chunk); () when none."""
    try:
        with opened_image(path) as image:
            return _names(getattr(image, "text", {}).get(CLASSES_KEY))
    except (ImageReadError, OSError, ValueError) as error:
        log.debug("no class names in %s: %s", path, error)
        return ()
