"""Mask files in the formats users ask for, as bytes (the writer makes them atomic).

- ``png``: 8-bit single channel, 0 background, 255 foreground (a 0..K label image
  for multi-class masks).
- ``rootpainter``: RGBA, foreground (0, 255, 255, 178), background transparent.
- ``rve``: RhizoVision Explorer's black roots on white.
- ``npz``: the mask and the foreground probability, compressed numpy arrays.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np

from cluster.images import encode_png

MaskFormat = Literal["png", "rootpainter", "rve", "npz"]
FORMATS: tuple[MaskFormat, ...] = ("png", "rootpainter", "rve", "npz")
ROOTPAINTER_FOREGROUND = (0, 255, 255, 178)
SUFFIXES: dict[str, str] = {"png": ".png", "rootpainter": ".png", "rve": ".png", "npz": ".npz"}


def encode_mask(
    mask: np.ndarray, *, fmt: MaskFormat = "png", probability: np.ndarray | None = None
) -> bytes:
    """The file content of a 0/1 (or 0..K) mask in format ``fmt``."""
    if fmt == "png":
        binary = mask.max(initial=0) <= 1
        return encode_png((mask * 255).astype(np.uint8) if binary else mask.astype(np.uint8))
    if fmt == "rootpainter":
        rgba = np.zeros((*mask.shape, 4), np.uint8)
        rgba[mask > 0] = ROOTPAINTER_FOREGROUND
        return encode_png(rgba)
    if fmt == "rve":
        return encode_png(np.where(mask > 0, 0, 255).astype(np.uint8))
    if fmt == "npz":
        buffer = io.BytesIO()
        arrays = {"mask": mask.astype(np.uint8)}
        if probability is not None:
            arrays["probability"] = probability.astype(np.float16)
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()
    raise ValueError(f"unknown mask format {fmt!r}; choose one of {', '.join(FORMATS)}")
