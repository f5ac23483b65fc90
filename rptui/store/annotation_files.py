"""Annotation files: RootPainter's RGBA PNG for binary projects, a label PNG otherwise.

A binary project keeps RootPainter's RGBA PNG (red foreground, green background, alpha
180), so RootPainter reads it; a project of more classes writes a single-channel 8-bit
label PNG of the labels themselves (0 unlabelled, class index + 1). Readers tell the two
apart by the PNG's mode.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from cluster.io.image_limits import ImageReadError, opened_image
from rptui.store.annotation import BINARY_CLASSES, AnnotationError

ANNOTATION_ALPHA = 180  # the opacity RootPainter's client saves its brush colours with
FOREGROUND_RGB = (255, 0, 0)
BACKGROUND_RGB = (0, 255, 0)
_N_VALUES = 256


def encode_rgba(labels: np.ndarray, *, alpha: int = ANNOTATION_ALPHA) -> np.ndarray:
    """RootPainter's RGBA annotation (HxWx4 uint8) for binary ``labels``.

    Foreground is red, background green, both with opacity ``alpha``; unlabelled pixels
    are (0, 0, 0, 0).
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise AnnotationError(f"labels must be a 2-D array, got shape {labels.shape}")
    if not 0 < alpha <= 255:
        raise AnnotationError(f"alpha must be 1..255, got {alpha}")
    if labels.size and int(labels.max()) > FOREGROUND:
        raise AnnotationError("the RootPainter RGBA format holds two classes only")
    palette = np.zeros((FOREGROUND + 1, 4), dtype=np.uint8)
    palette[FOREGROUND] = (*FOREGROUND_RGB, alpha)
    palette[BACKGROUND] = (*BACKGROUND_RGB, alpha)
    return palette[labels]


def decode_rgba(rgba: np.ndarray) -> np.ndarray:
    """Labels from a RootPainter annotation array, HxWx4 (RGBA) or HxWx3 (RGB).

    As RootPainter reads it: red above 0 is foreground, green above 0 is background.
    A pixel with alpha 0 is unlabelled whatever its colour. A pixel with both red and
    green (no RootPainter brush makes one) is read as foreground.
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] not in (3, 4):
        raise AnnotationError(f"expected an RGBA or RGB annotation, got shape {rgba.shape}")
    labels = np.full(rgba.shape[:2], UNLABELLED, dtype=np.uint8)
    labels[rgba[..., 1] > 0] = BACKGROUND
    labels[rgba[..., 0] > 0] = FOREGROUND
    if rgba.shape[2] == 4:
        labels[rgba[..., 3] == 0] = UNLABELLED
    return labels


def to_png_bytes(labels: np.ndarray, *, classes: int = BINARY_CLASSES) -> bytes:
    """The annotation file of ``labels`` for a project of ``classes`` classes.

    Binary (2 classes): RootPainter's RGBA PNG, unchanged. More classes: a single-channel
    8-bit label PNG (mode "L") holding the labels as they are (0 unlabelled, class + 1).
    """
    labels = np.asarray(labels)
    buffer = io.BytesIO()
    if classes == BINARY_CLASSES:
        Image.fromarray(encode_rgba(labels), mode="RGBA").save(buffer, format="PNG")
        return buffer.getvalue()
    _check_classes(classes)
    if labels.ndim != 2:
        raise AnnotationError(f"labels must be a 2-D array, got shape {labels.shape}")
    if labels.size and not 0 <= int(labels.min()) <= int(labels.max()) <= classes:
        raise AnnotationError(f"labels must lie in 0..{classes} for {classes} classes")
    Image.fromarray(labels.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _check_classes(classes: int) -> None:
    if not BINARY_CLASSES <= classes < _N_VALUES - 1:
        raise AnnotationError(f"a project has 2..{_N_VALUES - 2} classes, got {classes}")


def from_png_bytes(
    data: bytes,
    *,
    expected_shape: tuple[int, int] | None = None,
    classes: int = BINARY_CLASSES,
    source: str | Path | None = None,
) -> np.ndarray:
    """Labels from the bytes of an annotation file.

    RootPainter's RGBA (also RGB or palette) files are read in any project; a label PNG
    (mode "L") only in a project of more than two classes (binary projects stay
    RootPainter's format). ``source`` names the file in errors.

    Raises:
        AnnotationError: not a readable annotation, a label above ``classes``, or not
            ``expected_shape`` (H, W).
    """
    where = f"{source}: " if source is not None else ""
    try:
        with opened_image(bytes(data), name=source) as image:
            image.load()
            if image.mode == "P":
                image = image.convert("RGBA")
            allowed = ("RGBA", "RGB") if classes == BINARY_CLASSES else ("RGBA", "RGB", "L")
            if image.mode not in allowed:
                kinds = " or ".join(allowed)
                raise AnnotationError(
                    f"{where}annotation must be {kinds} for {classes} classes, "
                    f"got mode {image.mode}"
                )
            array = np.asarray(image)
    except ImageReadError as error:
        raise AnnotationError(f"{where}unreadable annotation image: {error.reason}") from error
    except (OSError, SyntaxError, ValueError) as error:  # PIL's errors for bad pixel data
        raise AnnotationError(f"{where}unreadable annotation image: {error}") from error
    if expected_shape is not None and array.shape[:2] != tuple(expected_shape):
        height, width = array.shape[:2]
        raise AnnotationError(
            f"{where}annotation is {width}x{height} (WxH) but its image is "
            f"{expected_shape[1]}x{expected_shape[0]}"
        )
    if array.ndim == 3:
        return decode_rgba(array)
    if array.size and int(array.max()) > classes:
        raise AnnotationError(
            f"{where}label value {int(array.max())} is above {classes}, the project's "
            f"{classes} classes (0 unlabelled, 1..{classes} a class)"
        )
    return np.array(array, dtype=np.uint8)
