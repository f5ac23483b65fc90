"""Covering a set of pixels with brush strokes whose disks never leave an allowed region.

A brush of radius ``r`` centred on pixel ``p`` paints the disk ``{q : |q - p| <= r}``
(``skimage.morphology.disk(r)``; radius 0 is the pixel itself). The disk stays inside a
region exactly where the region's depth (Euclidean distance to the nearest pixel outside
it) exceeds ``r``, so strokes centred only there never spill. Covering works in passes of
halving radius down to 0, where every remaining pixel is its own centre, so coverage is
always complete. Paths are 8-connected and visit their pixels in painting order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
from scipy import ndimage
from skimage.morphology import disk, skeletonize

# Clockwise from "up": (row, col) offsets of the 8 neighbours.
NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
# For each heading, the neighbours to try: straight on first, then ever sharper turns.
TURN_ORDER = tuple(
    tuple((heading + turn) % 8 for turn in (0, 1, -1, 2, -2, 3, -3, 4)) for heading in range(8)
)
EAST = 2
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
SCAN_BAND = 64  # px: rows of the image a user scans left-to-right, then right-to-left
SMALL_RADIUS = 4  # dilate by a structuring element up to here, by a distance transform above
MAX_LANES = 8  # skeleton lanes per radius before handing the rest to a smaller brush

Method = Literal["lanes", "sweeps"]
RawStroke = tuple[int, np.ndarray]  # (radius, (n, 2) int32 path)


def dilate(points: np.ndarray, radius: int) -> np.ndarray:
    """The union of radius-``radius`` disks around the True pixels of ``points``."""
    if radius <= 0 or not points.any():
        return points.astype(bool, copy=True)
    if radius <= SMALL_RADIUS:
        return ndimage.binary_dilation(points, structure=disk(radius).astype(bool))
    return ndimage.distance_transform_edt(~points) <= radius


def depth(region: np.ndarray) -> np.ndarray:
    """Distance to the nearest pixel outside ``region`` (inf where nothing is outside).

    The image border is not a boundary: a disk may run off the image.
    """
    region = region.astype(bool)
    if region.all():
        return np.full(region.shape, np.inf)
    return ndimage.distance_transform_edt(region)


def halving_radii(start: int) -> list[int]:
    """``start``, ``start // 2``, ... down to and including 0."""
    radii = []
    radius = max(0, int(start))
    while radius > 0:
        radii.append(radius)
        radius //= 2
    return [*radii, 0]


def scan_order(points: np.ndarray, *, band: int = SCAN_BAND) -> np.ndarray:
    """Indices ordering (n, 2) row/col points as a user scans: bands of rows, serpentine."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    rows = points[:, 0] // band
    cols = np.where(rows % 2 == 0, points[:, 1], -points[:, 1])
    return np.lexsort((points[:, 0], cols, rows))


def _components(points: np.ndarray) -> Iterator[np.ndarray]:
    """Pixel coordinates of each 8-connected component, in scan order of their first pixel."""
    labelled, count = ndimage.label(points, structure=EIGHT_CONNECTED)
    if count == 0:
        return
    coords = np.argwhere(labelled)
    ids = labelled[coords[:, 0], coords[:, 1]]
    order = np.argsort(ids, kind="stable")
    coords, ids = coords[order], ids[order]
    bounds = np.searchsorted(ids, np.arange(1, count + 2))
    firsts = coords[bounds[:-1]]
    for k in scan_order(firsts):
        yield coords[bounds[k] : bounds[k + 1]]


def _walk(coords: np.ndarray) -> list[np.ndarray]:
    """Paths visiting every pixel of one 8-connected component, each pixel once.

    The walk goes on to the unvisited neighbour with the fewest unvisited neighbours of
    its own (pixels that would become dead ends go first), straight on among equals. A
    dead end ends a stroke; the next starts at the latest visited pixel with an
    unvisited neighbour, so the pen is lifted instead of retracing.
    """
    top, left = coords.min(axis=0) - 1
    shape = coords.max(axis=0) - (top, left) + 2
    index = np.full(shape, -1, dtype=np.int64)
    local = coords - (top, left)
    index[local[:, 0], local[:, 1]] = np.arange(len(coords))
    neighbours = np.stack(
        [index[local[:, 0] + dr, local[:, 1] + dc] for dr, dc in NEIGHBOURS], axis=1
    )
    degree = (neighbours >= 0).sum(axis=1)
    start = int(np.argmin(degree))
    table = neighbours.tolist()
    free = degree.tolist()  # unvisited neighbours of each pixel
    visited = bytearray(len(coords))
    paths: list[list[int]] = []
    current, stack, heading = [start], [start], EAST

    def visit(node: int) -> None:
        visited[node] = 1
        for other in table[node]:
            if other >= 0:
                free[other] -= 1

    visit(start)
    while True:
        row = table[current[-1]]
        best, best_free, best_direction = -1, 9, heading
        for direction in TURN_ORDER[heading]:
            nxt = row[direction]
            if nxt >= 0 and not visited[nxt] and free[nxt] < best_free:
                best, best_free, best_direction = nxt, free[nxt], direction
        if best >= 0:
            visit(best)
            current.append(best)
            stack.append(best)
            heading = best_direction
            continue
        paths.append(current)
        while stack and free[stack[-1]] == 0:
            stack.pop()
        if not stack:
            break
        current = [stack[-1]]
    return [coords[path].astype(np.int32) for path in paths]


def trace_paths(points: np.ndarray) -> list[np.ndarray]:
    """8-connected (n, 2) int32 row/col paths that together visit every True pixel."""
    return [path for coords in _components(points) for path in _walk(coords)]


def _sweep_paths(centres: np.ndarray, radius: int) -> list[np.ndarray]:
    """Horizontal runs of ``centres`` on every ``2 * radius + 1``-th row, serpentine."""
    paths = []
    for n, row in enumerate(range(radius, centres.shape[0] + radius, 2 * radius + 1)):
        row = min(row, centres.shape[0] - 1)
        line = np.concatenate(([False], centres[row], [False]))
        edges = np.flatnonzero(np.diff(line.astype(np.int8)))
        runs = [np.arange(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        if n % 2:
            runs = [run[::-1] for run in reversed(runs)]
        for cols in runs:
            paths.append(np.stack([np.full(cols.size, row), cols], axis=1).astype(np.int32))
    return paths


def cover(
    targets: np.ndarray,
    region_depth: np.ndarray,
    *,
    radii: list[int],
    method: Method = "lanes",
    max_lanes: int = MAX_LANES,
) -> tuple[list[RawStroke], np.ndarray]:
    """Strokes painting every ``targets`` pixel, each disk inside the allowed region.

    Args:
        targets: H x W boolean, the pixels that must be painted; each must lie in the
            allowed region (``region_depth > 0``).
        region_depth: H x W depth of the allowed region (see :func:`depth`).
        radii: brush radii to try, largest first; 0 is appended if missing.
        method: "lanes" follows skeletons of the useful centres (corrections along
            objects); "sweeps" paints horizontal rows (filling large areas).
        max_lanes: skeleton rounds per radius (``lanes`` only).

    Returns:
        ((radius, path) strokes in painting order, H x W boolean of the pixels painted).
    """
    remaining = targets.astype(bool, copy=True)
    painted = np.zeros(targets.shape, dtype=bool)
    strokes: list[RawStroke] = []
    for radius in [*(r for r in radii if r > 0), 0]:
        if not remaining.any():
            break
        if radius == 0:
            strokes += [(0, path) for path in trace_paths(remaining)]
            painted |= remaining
            remaining[:] = False
            break
        allowed = region_depth > radius
        if not allowed.any():
            continue
        reach = dilate(allowed, radius)
        rounds = 1 if method == "sweeps" else max_lanes
        first = True  # the first lane follows the edge of where the brush fits
        for _ in range(rounds):
            coverable = remaining & reach
            if not coverable.any():
                break
            useful = allowed & dilate(coverable, radius)
            if method == "sweeps":
                paths = _sweep_paths(useful, radius)
                centres = np.zeros_like(useful)
                for path in paths:
                    centres[path[:, 0], path[:, 1]] = True
            elif first:
                centres = useful & ~ndimage.binary_erosion(allowed, border_value=1)
                centres = centres if centres.any() else skeletonize(useful)
                paths = trace_paths(centres)
            else:
                centres = skeletonize(useful)
                paths = trace_paths(centres)
            first = False
            disks = dilate(centres, radius)
            strokes += [(radius, path) for path in paths]
            painted |= disks
            remaining &= ~disks
    return strokes, painted
