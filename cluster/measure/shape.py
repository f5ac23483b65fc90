"""The outline of a root system: convex hull area, width and depth, of a mask or per region.

The convex hull is that of the pixels as squares (their corners), so a filled rectangle
of w×h pixels has a convex area of w·h and a solidity (network area / convex area) of 1.
Only the first and last pixel of each row can be corners of the hull, so the hull is
taken over those. Width is the horizontal extent of the foreground in pixels (columns),
depth its vertical extent (rows, down the image).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull

CORNERS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


def _hull_area(rows: np.ndarray, first: np.ndarray, last: np.ndarray) -> float:
    """Area of the convex hull of the pixels from ``first`` to ``last`` in each of ``rows``."""
    if not rows.size:
        return 0.0
    ends = np.concatenate([np.stack([rows, first], axis=1), np.stack([rows, last], axis=1)]).astype(
        np.float64
    )
    points = (ends[:, None, :] + CORNERS[None, :, :]).reshape(-1, 2)  # never all on a line
    return float(ConvexHull(points).volume)  # in 2-D, qhull's "volume" is the area


def convex_area(foreground: np.ndarray) -> float:
    """Area in pixels of the convex hull of a mask's foreground (0 when empty)."""
    foreground = np.asarray(foreground, dtype=bool)
    rows = np.flatnonzero(foreground.any(axis=1))
    if not rows.size:
        return 0.0
    band = foreground[rows]
    first = np.argmax(band, axis=1)
    last = band.shape[1] - 1 - np.argmax(band[:, ::-1], axis=1)
    return _hull_area(rows, first, last)


def extent(foreground: np.ndarray) -> tuple[int, int]:
    """(width, depth) in pixels of a mask's foreground: columns and rows it spans."""
    foreground = np.asarray(foreground, dtype=bool)
    cols = np.flatnonzero(foreground.any(axis=0))
    rows = np.flatnonzero(foreground.any(axis=1))
    if not rows.size:
        return 0, 0
    return int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def region_shapes(labels: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """Convex area, width and depth (pixels) of each region 1..count of a label image."""
    convex = np.zeros(count)
    width = np.zeros(count)
    depth = np.zeros(count)
    for index, box in enumerate(ndimage.find_objects(labels, max_label=count)):
        if box is None:
            continue
        depth[index] = box[0].stop - box[0].start
        width[index] = box[1].stop - box[1].start
        inside = labels[box] == index + 1
        convex[index] = convex_area(inside)
    return {"convex_area": convex, "width": width, "depth": depth}
