"""Local orientation of a skeleton: a principal-component fit over a window at each pixel.

At each skeleton pixel, the skeleton pixels within N px of it (a disc of radius N) are
fitted with a line by principal components: the direction of largest spread of
their positions is the root's local direction. Its angle from the horizontal (0–90°,
upwards and downwards alike) is what root angle traits are made of; the normal to it is
the direction in which a root's diameter is measured (:mod:`cluster.measure.width`).
Where roots cross or run within N px of each other the window sees both, and the fit
gives their mean direction.
"""

from __future__ import annotations

import numpy as np

ANGLE_WINDOW = 5  # ±px of skeleton fitted around each pixel
MAX_ANGLE_WINDOW = 50  # px: a disc of ~7,850 pixels a skeleton pixel, ~32 MB a block
CHUNK = 1 << 10  # skeleton pixels per block: small enough to stay in cache, one thread


def _window(radius: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat offsets of a disc of ``radius`` and its moments basis (1, x, y, x², y², xy)."""
    dy, dx = (axis.ravel() for axis in np.mgrid[-radius : radius + 1, -radius : radius + 1])
    inside = dx * dx + dy * dy <= radius * radius
    dy, dx = dy[inside], dx[inside]
    basis = np.stack([np.ones_like(dx), dx, dy, dx * dx, dy * dy, dx * dy], axis=1)
    return dy * stride + dx, basis.astype(np.float32)


def skeleton_orientation(
    skeleton: np.ndarray, rows: np.ndarray, cols: np.ndarray, *, window: int = ANGLE_WINDOW
) -> np.ndarray:
    """Direction of the skeleton at each of its pixels (rows, cols), in radians.

    Args:
        skeleton: HxW bool skeleton.
        rows, cols: its pixels.
        window: radius N of the disc of skeleton fitted (±N px).

    Returns:
        float32 angles θ in (-π/2, π/2]: the direction (cos θ, sin θ) in (x, y) with y
        pointing down the image; 0 for a pixel alone in its window.
    """
    half = max(int(window), 1)
    padded = np.pad(np.asarray(skeleton, dtype=bool), half).view(np.uint8).ravel()
    stride = skeleton.shape[1] + 2 * half
    offsets, basis = _window(half, stride)
    centres = (rows + half) * stride + (cols + half)
    sums = np.empty((centres.size, basis.shape[1]), dtype=np.float32)
    for start in range(0, centres.size, CHUNK):
        block = centres[start : start + CHUNK]
        seen = padded[block[:, None] + offsets[None, :]].astype(np.float32)
        sums[start : start + CHUNK] = seen @ basis
    count = np.maximum(sums[:, 0], 1.0)
    sum_x, sum_y, sum_xx, sum_yy, sum_xy = sums[:, 1:].T
    mean_x, mean_y = sum_x / count, sum_y / count
    var_x = sum_xx / count - mean_x * mean_x
    var_y = sum_yy / count - mean_y * mean_y
    cov = sum_xy / count - mean_x * mean_y
    return (0.5 * np.arctan2(2.0 * cov, var_x - var_y)).astype(np.float32)


def degrees_from_horizontal(theta: np.ndarray) -> np.ndarray:
    """Angles θ of :func:`skeleton_orientation` as degrees from the horizontal, 0–90."""
    return np.abs(np.degrees(theta))
