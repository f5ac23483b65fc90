"""A generated CT-like stack of slices with several material classes and exact labels.

A grey, mottled matrix (background) holds three kinds of object, told apart by density
(grey level) and texture as CT materials are: round pores (air: darkest), elongated
roots (water-rich tissue: darker than the matrix, smooth) and mineral grains (densest:
brightest, speckled). Objects are solids in the volume
(balls, capsules, ellipsoids) that each slice cuts, so neighbouring slices agree and an
object drifts and grows or shrinks slowly from slice to slice. Deterministic by seed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CLASS_NAMES = ("background", "pore", "root", "grain")
MAX_CLASSES = len(CLASS_NAMES) - 1  # foreground classes
MATRIX_GREY = 130.0
MATRIX_TEXTURE = 9.0  # smooth grey variation of the matrix, std
PORE_GREY = 30.0
ROOT_GREY = 75.0
GRAIN_GREY = 210.0
GRAIN_SPECKLE = 25.0  # std of the grains' fine texture
NOISE = 7.0  # scanner noise, std
BLUR_SIGMA = 0.5  # partial-volume blur of edges, px
OBJECT_AREA = 1400  # slice pixels per object of each class, on average
PAINT_ORDER = (3, 1, 2)  # grains first, then pores and roots on top


def _grid(slices: int, height: int, width: int) -> tuple[np.ndarray, ...]:
    return np.meshgrid(
        np.arange(slices, dtype=np.float32),
        np.arange(height, dtype=np.float32),
        np.arange(width, dtype=np.float32),
        indexing="ij",
        sparse=True,
    )


def _pores(rng: np.random.Generator, shape: tuple[int, int, int], count: int) -> np.ndarray:
    """Balls, 4-10 px in radius."""
    z, y, x = _grid(*shape)
    inside = np.zeros(shape, dtype=bool)
    for _ in range(count):
        radius = rng.uniform(4.0, 10.0)
        cz, cy, cx = (rng.uniform(-radius / 2, side + radius / 2) for side in shape)
        inside |= (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius**2
    return inside


def _roots(rng: np.random.Generator, shape: tuple[int, int, int], count: int) -> np.ndarray:
    """Capsules 3.5-6 px in radius, long in the slice plane and slowly crossing slices."""
    z, y, x = _grid(*shape)
    inside = np.zeros(shape, dtype=bool)
    for _ in range(count):
        radius = rng.uniform(3.5, 6.0)
        start = np.array([rng.uniform(0, side) for side in shape], dtype=np.float32)
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(0.4, 0.9) * max(shape[1:])
        step = np.array([rng.uniform(-0.1, 0.1), np.sin(angle), np.cos(angle)], dtype=np.float32)
        step /= np.linalg.norm(step)
        start -= step * length / 2
        # Distance to the segment start + t * step, t in [0, length].
        t = (z - start[0]) * step[0] + (y - start[1]) * step[1] + (x - start[2]) * step[2]
        t = np.clip(t, 0.0, length)
        distance = (
            (z - start[0] - t * step[0]) ** 2
            + (y - start[1] - t * step[1]) ** 2
            + (x - start[2] - t * step[2]) ** 2
        )
        inside |= distance <= radius**2
    return inside


def _grains(rng: np.random.Generator, shape: tuple[int, int, int], count: int) -> np.ndarray:
    """Ellipsoids 6-14 px across in the plane, 3-8 slices deep."""
    z, y, x = _grid(*shape)
    inside = np.zeros(shape, dtype=bool)
    for _ in range(count):
        rz, ry, rx = rng.uniform(3.0, 8.0), rng.uniform(6.0, 14.0), rng.uniform(6.0, 14.0)
        cz, cy, cx = (rng.uniform(0, side) for side in shape)
        inside |= ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
    return inside


MAKERS = (_pores, _roots, _grains)


def _smooth_field(
    rng: np.random.Generator, shape: tuple[int, int, int], sigma: float
) -> np.ndarray:
    """Unit-std noise smoothed over ``sigma`` px (and slices)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return field / max(float(field.std()), 1e-6)


def generate_class_stack(
    *, slices: int, height: int, width: int, classes: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A CT-like stack of ``slices`` grey slices and its label volume.

    Args:
        slices: Z, the number of slices.
        height: slice height in pixels.
        width: slice width in pixels.
        classes: foreground classes, 1..3: pores, then roots, then grains
            (:data:`CLASS_NAMES` gives the names, background first).
        seed: the random seed.

    Returns:
        (images Z x H x W x 3 uint8 grey RGB, labels Z x H x W uint8 class index
        0..classes, 0 the background matrix).
    """
    if not 1 <= classes <= MAX_CLASSES:
        raise ValueError(f"classes must be 1..{MAX_CLASSES}, got {classes}")
    if min(slices, height, width) < 1:
        raise ValueError(f"empty stack {(slices, height, width)}")
    rng = np.random.default_rng(seed)
    shape = (slices, height, width)
    count = max(1, round(height * width / OBJECT_AREA))
    labels = np.zeros(shape, dtype=np.uint8)
    for index in PAINT_ORDER:
        if index <= classes:
            labels[MAKERS[index - 1](rng, shape, count)] = index

    grey = MATRIX_GREY + MATRIX_TEXTURE * _smooth_field(rng, shape, 3.0)
    grey[labels == 1] = PORE_GREY
    grey[labels == 2] = ROOT_GREY
    grains = labels == 3
    speckle = _smooth_field(rng, shape, 0.8)
    grey[grains] = GRAIN_GREY + GRAIN_SPECKLE * speckle[grains]
    grey = ndimage.gaussian_filter(grey, (0.0, BLUR_SIGMA, BLUR_SIGMA))
    grey += NOISE * rng.standard_normal(shape).astype(np.float32)
    image = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.repeat(image[..., None], 3, axis=3), labels
