"""What a simulated user paints: brush strokes, and the plan of a dense annotation.

A :class:`Stroke` is a brush of one class and radius dragged along an 8-connected path of
centres; :func:`paint` stamps strokes onto a label image. The planners never put a disk
on a pixel of the other true class (every centre lies where the class mask, eroded by
the brush, still holds it). Corrections are planned in :mod:`cluster.simulate.corrections`,
clear examples in :mod:`cluster.simulate.clear_examples`, both priced and cut to a time
budget by :mod:`cluster.simulate.pace`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from cluster.simulate.dense import (
    EIGHT_CONNECTED,
    cover,
    depth,
    dilate,
    halving_radii,
    scan_order,
)
from cluster.simulate.shortcuts import Shortcut, apply_shortcut, fill_boxes

DEFAULT_MAX_RADIUS = 8  # px, the largest correction brush
DENSE_MAX_RADIUS = 16  # px, the fill brush of dense annotation
STAMP_MAX_RADIUS = 4  # larger brushes are painted by a distance transform


@dataclass(frozen=True)
class Stroke:
    """One brush stroke: a class, a radius and the brush centres in painting order.

    ``group`` numbers what one visual search finds (an error region, a branch, an area);
    strokes of one group follow one another.
    """

    label: int
    radius: int
    path: np.ndarray  # (n, 2) int32 row, col; consecutive points 8-connected
    group: int = 0

    def __post_init__(self) -> None:
        if self.label not in (FOREGROUND, BACKGROUND):
            raise ValueError(f"stroke label must be FOREGROUND or BACKGROUND, got {self.label}")
        if self.radius < 0:
            raise ValueError(f"stroke radius must be >= 0, got {self.radius}")
        if self.path.ndim != 2 or self.path.shape[1] != 2 or len(self.path) == 0:
            raise ValueError(f"stroke path must be (n >= 1, 2), got {self.path.shape}")

    @property
    def length(self) -> float:
        """Euclidean length of the path in pixels (0 for a dab)."""
        steps = np.diff(self.path.astype(np.float64), axis=0)
        return float(np.hypot(steps[:, 0], steps[:, 1]).sum())


KeyboardAction = Stroke | Shortcut


@dataclass(frozen=True)
class AnnotationPlan:
    """Strokes in painting order, the labels they give, and the error regions found.

    ``keyboard`` maps a stroke group to what a keyboard user may do instead of painting
    it (``x`` or box fills, then any strokes left); either way the labels are ``labels``.
    """

    strokes: list[Stroke]
    labels: np.ndarray  # H x W uint8: 0 unlabelled, 1 background, 2 foreground
    error_regions: int = 0  # connected error regions that needed strokes
    keyboard: dict[int, list[KeyboardAction]] = field(default_factory=dict)

    @property
    def groups(self) -> int:
        """How many distinct stroke groups (visual searches) the plan has."""
        return len({stroke.group for stroke in self.strokes})


@lru_cache(maxsize=32)
def _disk_offsets(radius: int) -> np.ndarray:
    """(k, 2) row/col offsets of the pixels of a radius-``radius`` brush disk."""
    span = np.arange(-radius, radius + 1)
    dy, dx = np.meshgrid(span, span, indexing="ij")
    inside = dy**2 + dx**2 <= radius**2
    return np.stack([dy[inside], dx[inside]], axis=1)


def _disks(
    path: np.ndarray, radius: int, shape: tuple[int, int]
) -> tuple[tuple[slice, slice], np.ndarray]:
    """(box, mask) of the union of disks around ``path`` points, clipped to ``shape``."""
    top, left = path.min(axis=0) - radius
    bottom, right = path.max(axis=0) + radius + 1
    local = np.zeros((bottom - top, right - left), dtype=bool)
    rows, cols = path[:, 0] - top, path[:, 1] - left
    if radius <= STAMP_MAX_RADIUS:
        for dy, dx in _disk_offsets(radius).tolist():
            local[rows + dy, cols + dx] = True
    else:
        local[rows, cols] = True
        local = dilate(local, radius)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(bottom, shape[0]), min(right, shape[1])
    return (slice(y0, y1), slice(x0, x1)), local[y0 - top : y1 - top, x0 - left : x1 - left]


def stroke_pixels(stroke: Stroke, shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray]:
    """(box, mask) of the pixels a stroke paints, clipped to an image of ``shape``."""
    return _disks(stroke.path.astype(np.int64), stroke.radius, shape)


def paint(labels: np.ndarray, strokes: Sequence[Stroke]) -> np.ndarray:
    """A new label image: ``labels`` with each stroke's disks painted in order."""
    out = np.array(labels, dtype=np.uint8, copy=True)
    n = 0
    while n < len(strokes):
        # Consecutive strokes of one class and radius paint the same as their union.
        first, end = strokes[n], n + 1
        while end < len(strokes) and (strokes[end].label, strokes[end].radius) == (
            first.label,
            first.radius,
        ):
            end += 1
        path = np.concatenate([s.path for s in strokes[n:end]]).astype(np.int64)
        box, disks = _disks(path, first.radius, out.shape)
        out[box][disks] = first.label
        n = end
    return out


def keyboard_labels(
    plan: AnnotationPlan,
    labels: np.ndarray,
    *,
    predicted: np.ndarray | None = None,
    groups: set[int] | None = None,
) -> np.ndarray:
    """Labels after painting ``plan`` on ``labels`` with the keyboard alternative of ``groups``.

    ``groups`` None takes every alternative; ``predicted`` is what ``x`` acts on.
    """
    chosen = set(plan.keyboard) if groups is None else groups & set(plan.keyboard)
    out = np.array(labels, dtype=np.uint8, copy=True)
    done: set[int] = set()
    for stroke in plan.strokes:
        if stroke.group not in chosen:
            out = paint(out, [stroke])
        elif stroke.group not in done:
            done.add(stroke.group)
            for action in plan.keyboard[stroke.group]:
                if isinstance(action, Stroke):
                    out = paint(out, [action])
                else:
                    out = apply_shortcut(out, action, predicted=predicted)
    return out


def check_shapes(*arrays: np.ndarray) -> None:
    """ValueError unless the arrays are 2-D and of one shape."""
    shape = arrays[0].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays):
        raise ValueError(f"need 2-D arrays of one shape, got {[a.shape for a in arrays]}")


def scan_boxes(
    components: np.ndarray, count: int, margin: int
) -> list[tuple[int, tuple[slice, slice]]]:
    """(component id, box grown by ``margin``) in the order a user scans the image."""
    slices = ndimage.find_objects(components, max_label=count)
    firsts = np.array([(s[0].start, s[1].start) for s in slices]).reshape(-1, 2)
    height, width = components.shape
    boxes = []
    for k in scan_order(firsts):
        rows, cols = slices[k]
        box = (
            slice(max(0, rows.start - margin), min(height, rows.stop + margin)),
            slice(max(0, cols.start - margin), min(width, cols.stop + margin)),
        )
        boxes.append((int(k) + 1, box))
    return boxes


def offset_paths(
    raw: list[tuple[int, np.ndarray]], box: tuple[slice, slice]
) -> list[tuple[int, np.ndarray]]:
    """(radius, path) strokes planned inside ``box``, moved to image coordinates."""
    origin = np.array([box[0].start, box[1].start], dtype=np.int32)
    return [(radius, path + origin) for radius, path in raw]


def dense_labels(mask: np.ndarray, *, band: int = 1) -> np.ndarray:
    """Every pixel labelled with its class, except ``band`` px either side of boundaries."""
    truth = mask.astype(bool)
    labels = np.full(truth.shape, UNLABELLED, dtype=np.uint8)
    labels[depth(~truth) > band] = BACKGROUND
    labels[depth(truth) > band] = FOREGROUND
    return labels


def plan_dense(
    mask: np.ndarray, *, band: int = 1, max_radius: int = DENSE_MAX_RADIUS
) -> AnnotationPlan:
    """Strokes of a dense annotation: whole classes filled, a thin boundary band left out.

    Assumption: a user fills each connected area of a class by horizontal sweeps with a
    big brush (``max_radius``), then halves the brush for what is left near edges, and
    traces the last unpainted pixels along the edges with a one-pixel brush. Background
    first, then foreground. No brush disk reaches into the band, so the result is
    exactly :func:`dense_labels`. A keyboard user may instead box-fill the largest
    rectangles of an area (``r`` ``r``) and sweep only what they leave: the same labels.
    """
    check_shapes(mask)
    target = dense_labels(mask, band=band)
    strokes: list[Stroke] = []
    keyboard: dict[int, list[KeyboardAction]] = {}
    group = 0
    for value in (BACKGROUND, FOREGROUND):
        area = target == value
        area_depth = depth(area)
        components, count = ndimage.label(area, structure=EIGHT_CONNECTED)
        for k, box in scan_boxes(components, count, 0):
            region = components[box] == k
            start = int(np.ceil(min(max_radius + 1, area_depth[box][region].max()))) - 1
            radii = halving_radii(start)
            raw, _ = cover(region, area_depth[box], radii=radii, method="sweeps")
            strokes += [Stroke(value, r, p, group) for r, p in offset_paths(raw, box)]
            corners, filled = fill_boxes(region)
            if corners:
                origin = np.array([box[0].start, box[1].start], dtype=np.int32)
                rest, _ = cover(region & ~filled, area_depth[box], radii=radii, method="sweeps")
                keyboard[group] = [
                    *(Shortcut("box", value, c + origin, group) for c in corners),
                    *(Stroke(value, r, p, group) for r, p in offset_paths(rest, box)),
                ]
            group += 1
    labels = paint(np.zeros_like(target), strokes)
    return AnnotationPlan(strokes, labels, 0, keyboard)
