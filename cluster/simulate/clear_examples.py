"""A simulated annotator's "clear examples": what a user paints with no model shown.

On the first images a user labels clear parts of both classes quickly: a few foreground
strokes along the clearest objects (the widest and longest skeleton branches first, the
brush as wide as the object allows), then background with the largest brush that fits
the open space while keeping a margin from every object, about ``bg_ratio`` (at most
~10) times as many background pixels as foreground ones. The foreground, the minority
class of the thin structures this is made for, comes first. The strokes never
contradict the truth: a foreground disk lies inside the object (a branch too thin for a
brush is traced on its skeleton with radius 0; where a wider branch narrows below its
brush, the stroke is interrupted), a background disk stays farther than ``bg_margin``
pixels from every object pixel. The whole plan costs at most ``seconds``
of mouse time (:class:`cluster.simulate.pace.MouseBudget`), the foreground at most
``FOREGROUND_SHARE`` of it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import skeletonize

from cluster.api import BACKGROUND, FOREGROUND
from cluster.simulate.corrections import plan_corrections
from cluster.simulate.dense import depth, trace_paths
from cluster.simulate.pace import MouseBudget
from cluster.simulate.strokes import (
    DEFAULT_MAX_RADIUS,
    DENSE_MAX_RADIUS,
    AnnotationPlan,
    Stroke,
    paint,
    stroke_pixels,
)

CLEAR_EXAMPLE_SECONDS = 45.0  # mouse time for one clear example (the paper: ~36 s an image)
FOREGROUND_SHARE = 0.6  # of that time, at most, for the foreground strokes
EMPTY_BG_FRACTION = 0.03  # background share of an image without objects
BG_STROKE_LENGTH = (32.0, 128.0)  # px, a straight drag of the mouse or the cursor
MAX_BG_STROKES = 500
BG_DIRECTIONS = 4  # directions a user considers for a background stroke: the longest wins
MIN_CLEAR_BRANCH = 10  # px of skeleton: shorter branches are spurs, not clear objects
JUNCTION_NEIGHBOURS = 3  # skeleton pixels with this many neighbours split branches
MIN_WIDE_RUN = 3  # px: shorter stretches where the brush fits are left out


def _branches(skeleton: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the skeleton's branches (junction pixels removed), 8-connected."""
    neighbours = ndimage.convolve(skeleton.astype(np.uint8), np.ones((3, 3)), mode="constant")
    junctions = skeleton & (neighbours - 1 >= JUNCTION_NEIGHBOURS)
    return ndimage.label(skeleton & ~junctions, structure=np.ones((3, 3)))


def _fitting_runs(path: np.ndarray, fits: np.ndarray) -> list[np.ndarray]:
    """The stretches of ``path`` at least ``MIN_WIDE_RUN`` long where ``fits`` holds."""
    wide = np.concatenate([[False], fits[path[:, 0], path[:, 1]], [False]])
    edges = np.flatnonzero(np.diff(wide.astype(np.int8)))
    return [
        path[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= MIN_WIDE_RUN
    ]


def _clearest_branches(
    labelled: np.ndarray, count: int, object_depth: np.ndarray, coverage: float
) -> list[tuple[int, int]]:
    """(branch id, brush radius) of the clearest branches, clearest first.

    Clearest: the most skeleton length times median half-width; branches shorter than
    ``MIN_CLEAR_BRANCH`` only when there is nothing longer; at most ``coverage`` of the
    skeleton's length (at least one branch). The radius is the largest that fits inside
    the object along at least half of the branch.
    """
    ids = np.arange(1, count + 1)
    lengths = np.bincount(labelled.ravel(), minlength=count + 1)[1:]
    widths = np.asarray(ndimage.median(object_depth, labels=labelled, index=ids), np.float64)
    long_enough = lengths >= MIN_CLEAR_BRANCH
    if not long_enough.any():
        long_enough[:] = True
    order = np.argsort(-(lengths * widths * long_enough), kind="stable")
    allowed = coverage * lengths.sum()
    chosen: list[tuple[int, int]] = []
    painted = 0
    for k in order:
        if not long_enough[k] or (chosen and painted + lengths[k] > allowed):
            continue
        radius = int(np.clip(math.ceil(widths[k]) - 1, 0, DEFAULT_MAX_RADIUS))
        chosen.append((int(ids[k]), radius))
        painted += int(lengths[k])
    return chosen


def foreground_strokes(
    mask: np.ndarray, budget: MouseBudget, *, coverage: float, limit: float | None
) -> list[Stroke]:
    """Strokes along the clearest branches' centrelines, clearest first, in the time given."""
    objects = mask.astype(bool)
    labelled, count = _branches(skeletonize(objects))
    if count == 0:
        return []
    object_depth = depth(objects)
    chosen = _clearest_branches(labelled, count, object_depth, coverage)
    rank = {branch: n for n, (branch, _) in enumerate(chosen)}
    paths: list[list[np.ndarray]] = [[] for _ in chosen]
    for path in trace_paths(np.isin(labelled, list(rank))):
        paths[rank[int(labelled[path[0, 0], path[0, 1]])]].append(path)
    strokes: list[Stroke] = []
    for group, ((_, radius), branch_paths) in enumerate(zip(chosen, paths, strict=True)):
        fits = object_depth > radius
        runs = [run for path in branch_paths for run in _fitting_runs(path, fits)] if radius else []
        if not runs:  # too thin for a brush, or it fits nowhere for long: the centreline
            runs, radius = branch_paths, 0
        pieces = [Stroke(FOREGROUND, radius, run, group) for run in runs]
        kept, whole = budget.take(pieces, limit=limit)
        strokes += kept
        if not whole:
            break
    return strokes


def _open_line(
    free: np.ndarray, clearance: float, start: tuple[int, int], length: float, angle: float
) -> np.ndarray:
    """(n, 2) int32 points of a straight line from ``start``, cut where ``free`` (distance to
    the nearest object) is no longer above ``clearance``."""
    height, width = free.shape
    r1 = int(np.clip(round(start[0] + length * math.sin(angle)), 0, height - 1))
    c1 = int(np.clip(round(start[1] + length * math.cos(angle)), 0, width - 1))
    rr, cc = line(start[0], start[1], r1, c1)
    inside = free[rr, cc] > clearance
    stop = len(rr) if inside.all() else int(np.argmin(inside))
    return np.stack([rr[:stop], cc[:stop]], axis=1).astype(np.int32)


def background_strokes(
    mask: np.ndarray,
    budget: MouseBudget,
    *,
    rng: np.random.Generator,
    target_pixels: int,
    bg_margin: float = 3.0,
    max_radius: int = DENSE_MAX_RADIUS,
    first_group: int = 0,
) -> list[Stroke]:
    """Straight background strokes in open soil until about ``target_pixels`` are painted.

    Each stroke starts at a random point, the more open the likelier, with the largest
    brush (up to ``max_radius``) whose disk keeps farther than ``bg_margin`` from every
    object pixel, and goes the longest of a few random directions, ending where that
    brush would come closer. The last strokes are
    shortened (and their brush narrowed) so as not to overshoot ``target_pixels`` by
    more than a disk.
    """
    objects = mask.astype(bool)
    width = objects.shape[1]
    free = depth(~objects)  # distance to the nearest object pixel (inf: none)
    room = np.minimum(free - bg_margin, max_radius + 1.0)
    weights = np.where(room > 1.0, room, 0.0).ravel() ** 2
    painted = np.zeros(objects.shape, dtype=bool)
    strokes: list[Stroke] = []
    total = 0
    while total < target_pixels and len(strokes) < MAX_BG_STROKES:
        cumulative = np.cumsum(weights)
        if cumulative[-1] <= 0:
            break
        start = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        r0, c0 = divmod(min(start, weights.size - 1), width)
        remaining = target_pixels - total
        radius = math.ceil(min(max_radius + 1.0, free[r0, c0] - bg_margin)) - 1
        radius = max(1, min(radius, int(math.sqrt(remaining / math.pi))))
        fill = (remaining - math.pi * radius**2) / (2 * radius + 1)  # what the rest needs
        length = min(rng.uniform(*BG_STROKE_LENGTH), max(0.0, fill))
        path = max(
            (
                _open_line(free, radius + bg_margin, (r0, c0), length, angle)
                for angle in rng.uniform(0.0, 2.0 * math.pi, size=BG_DIRECTIONS)
            ),
            key=len,
        )
        kept, whole = budget.take([Stroke(BACKGROUND, radius, path, first_group + len(strokes))])
        for stroke in kept:
            box, disks = stroke_pixels(stroke, objects.shape)
            total += int(np.count_nonzero(disks & ~painted[box]))
            painted[box] |= disks
            weights.reshape(objects.shape)[box] = 0.0  # the next stroke goes elsewhere
            strokes.append(stroke)
        if not whole:
            break
    return strokes


def clear_example_plan(
    mask: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    rng: np.random.Generator,
    seconds: float | None = CLEAR_EXAMPLE_SECONDS,
    bg_ratio: float = 8.0,
    bg_margin: float = 3.0,
    max_bg_radius: int = DENSE_MAX_RADIUS,
    coverage: float = 0.6,
    empty_bg_fraction: float = EMPTY_BG_FRACTION,
) -> AnnotationPlan:
    """The strokes a user paints quickly on an image with no model shown.

    Args:
        mask: H x W ground truth, nonzero on object (foreground) pixels.
        labels: labels painted so far (none: an unlabelled image).
        rng: the random source; the same state gives the same strokes.
        seconds: mouse time the user spends (None: no limit).
        bg_ratio: background pixels painted per foreground pixel (about).
        bg_margin: background strokes stay farther than this from every object pixel.
        max_bg_radius: the largest background brush radius.
        coverage: the largest share of the skeleton's length that gets foreground strokes.
        empty_bg_fraction: share of the image painted background when no foreground is.

    Returns:
        Foreground strokes (one group per branch, clearest first), then background
        strokes (one group each), and the labels they give.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    base = np.zeros(mask.shape, np.uint8) if labels is None else np.asarray(labels, np.uint8)
    if base.shape != mask.shape:
        raise ValueError(f"labels {base.shape} do not match mask {mask.shape}")
    budget = MouseBudget(seconds, image_shape=mask.shape)
    fg_limit = None if seconds is None else FOREGROUND_SHARE * seconds
    fg = foreground_strokes(mask, budget, coverage=coverage, limit=fg_limit)
    fg_pixels = int(np.count_nonzero(paint(np.zeros_like(base), fg)))
    target = round(bg_ratio * fg_pixels) if fg_pixels else round(empty_bg_fraction * mask.size)
    bg = background_strokes(
        mask,
        budget,
        rng=rng,
        target_pixels=target,
        bg_margin=bg_margin,
        max_radius=max_bg_radius,
        first_group=len({s.group for s in fg}),
    )
    strokes = fg + bg
    return AnnotationPlan(strokes, paint(base, strokes), 0)


def clear_example_labels(
    mask: np.ndarray, *, rng: np.random.Generator, **style: float
) -> np.ndarray:
    """Labels of :func:`clear_example_plan` (same ``style`` options) on an unlabelled
    image: H x W uint8 (0 unlabelled, 1 background, 2 foreground)."""
    return clear_example_plan(mask, rng=rng, **style).labels  # type: ignore[arg-type]


def correction_labels(
    mask: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    *,
    fg_radius: int = 1,
    bg_radius: int = 1,
) -> np.ndarray:
    """A corrective pass: every error covered, with zero spill onto the other class.

    The labels of :func:`cluster.simulate.corrections.plan_corrections` with brushes no larger than
    ``max(fg_radius, bg_radius)``; earlier labels away from the errors are kept.

    Args:
        mask: H x W ground truth, nonzero on object pixels.
        predicted: H x W boolean (or 0/1) prediction shown to the user.
        labels: the labels painted so far (0 unlabelled, 1 background, 2 foreground).

    Returns:
        The corrected labels, a new H x W uint8 array.
    """
    return plan_corrections(mask, predicted, labels, max_radius=max(fg_radius, bg_radius, 0)).labels
