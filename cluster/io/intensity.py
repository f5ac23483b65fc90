"""Intensity windows: any numeric pixels mapped to 8 bits, grey made RGB."""

from __future__ import annotations

import numpy as np

# Percentiles of the intensity window used for images deeper than 8 bits.
WINDOW_PERCENTILES = (0.5, 99.5)
# Values sampled to estimate the window (a strided sample keeps big images fast).
WINDOW_SAMPLE_SIZE = 1_000_000


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


def to_rgb(array: np.ndarray, *, window: tuple[float, float] | None = None) -> np.ndarray:
    """Make HxW, HxWx1..C arrays of any dtype into HxWx3 uint8."""
    values = colour_values(array)
    if values.ndim == 2:
        grey = window_to_uint8(values, window=window)
        out = np.empty((*grey.shape, 3), dtype=np.uint8)
        out[...] = grey[..., None]
        return out
    return np.ascontiguousarray(window_to_uint8(values, window=window))
