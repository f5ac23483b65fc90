"""A simulated careful annotator: the "clear example" strokes of METHOD.md's protocol.

On the first images, with no model shown, a user labels clear parts of both classes:
thin foreground strokes along object centrelines and background strokes on clear
soil, about 5-10x more background than foreground, the minority class first. The
strokes never contradict the ground truth: a foreground disk lies inside the object
(radius 0 on the skeleton where the object is too thin for the brush), a background
disk stays farther than ``bg_margin`` pixels from every object pixel.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import disk, skeletonize

from cluster.api import BACKGROUND, FOREGROUND
from cluster.simulate.dense import depth, trace_paths
from cluster.simulate.strokes import AnnotationPlan, Stroke, paint, plan_corrections, stroke_pixels

EMPTY_BG_FRACTION = 0.03  # background share of an image without objects
BG_STROKE_LENGTH = (16.0, 64.0)  # px, a straight drag of the mouse or the cursor
MAX_STROKES = 5000
JUNCTION_NEIGHBOURS = 3  # skeleton pixels with this many neighbours split branches
MIN_WIDE_RUN = 3  # shorter stretches where the brush fits are painted with radius 0


def _branches(skeleton: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the skeleton's branches (junction pixels removed), 8-connected."""
    neighbours = ndimage.convolve(skeleton.astype(np.uint8), np.ones((3, 3)), mode="constant")
    junctions = skeleton & (neighbours - 1 >= JUNCTION_NEIGHBOURS)
    return ndimage.label(skeleton & ~junctions, structure=np.ones((3, 3)))


def _split_by_fit(path: np.ndarray, fits: np.ndarray, radius: int) -> list[tuple[int, np.ndarray]]:
    """Pieces of ``path``: radius ``radius`` where the brush fits for a while, else 0."""
    wide = fits[path[:, 0], path[:, 1]]
    edges = np.flatnonzero(np.diff(wide.astype(np.int8))) + 1
    pieces = []
    for piece, flags in zip(np.split(path, edges), np.split(wide, edges), strict=True):
        r = radius if flags[0] and len(piece) >= MIN_WIDE_RUN else 0
        if pieces and pieces[-1][0] == r:
            pieces[-1] = (r, np.concatenate([pieces[-1][1], piece]))
        else:
            pieces.append((r, piece))
    return pieces


def foreground_plan_strokes(
    mask: np.ndarray, *, rng: np.random.Generator, fg_radius: int = 1, coverage: float = 0.6
) -> list[Stroke]:
    """Strokes along the centrelines of a random ``coverage`` share of skeleton branches."""
    objects = mask.astype(bool)
    skeleton = skeletonize(objects)
    branch_labels, count = _branches(skeleton)
    if count == 0:
        return []
    chosen = np.flatnonzero(rng.random(count) < coverage) + 1
    if chosen.size == 0:
        chosen = np.array([int(rng.integers(count)) + 1])
    fits = ndimage.binary_erosion(objects, structure=disk(fg_radius), border_value=1)
    strokes = []
    for group, path in enumerate(trace_paths(np.isin(branch_labels, chosen))):
        for radius, piece in _split_by_fit(path, fits, fg_radius):
            strokes.append(Stroke(FOREGROUND, radius, piece, group))
    return strokes


def background_plan_strokes(
    mask: np.ndarray,
    *,
    rng: np.random.Generator,
    target_pixels: int,
    bg_margin: float = 3.0,
    bg_radius: int = 2,
    first_group: int = 0,
) -> list[Stroke]:
    """Straight background strokes on clear soil until about ``target_pixels`` are painted.

    Only pixels farther than ``bg_margin`` from every object pixel are painted: a stroke
    ends where its brush would touch a pixel closer than that.
    """
    objects = mask.astype(bool)
    height, width = objects.shape
    # A disk whose centre is farther than bg_margin + bg_radius from every object pixel
    # keeps all its pixels farther than bg_margin.
    centres_ok = depth(~objects) > bg_margin + bg_radius
    starts = np.argwhere(centres_ok)
    strokes: list[Stroke] = []
    if target_pixels <= 0 or starts.size == 0:
        return strokes
    painted = np.zeros(objects.shape, dtype=bool)
    total = 0
    for _ in range(MAX_STROKES):
        r0, c0 = (int(v) for v in starts[rng.integers(len(starts))])
        angle = rng.uniform(0.0, 2.0 * math.pi)
        length = rng.uniform(*BG_STROKE_LENGTH)
        r1 = int(np.clip(round(r0 + length * math.sin(angle)), 0, height - 1))
        c1 = int(np.clip(round(c0 + length * math.cos(angle)), 0, width - 1))
        rr, cc = line(r0, c0, r1, c1)
        inside = centres_ok[rr, cc]
        stop = int(np.argmin(inside)) if not inside.all() else len(rr)
        path = np.stack([rr[:stop], cc[:stop]], axis=1).astype(np.int32)
        stroke = Stroke(BACKGROUND, bg_radius, path, first_group + len(strokes))
        box, disks = stroke_pixels(stroke, objects.shape)
        total += int(np.count_nonzero(disks & ~painted[box]))
        painted[box] |= disks
        strokes.append(stroke)
        if total >= target_pixels:
            break
    return strokes


def clear_example_plan(
    mask: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    rng: np.random.Generator,
    fg_radius: int = 1,
    bg_ratio: float = 8.0,
    bg_margin: float = 3.0,
    bg_radius: int = 2,
    coverage: float = 0.6,
    empty_bg_fraction: float = EMPTY_BG_FRACTION,
) -> AnnotationPlan:
    """The strokes a careful user paints on an image with no model shown.

    Args:
        mask: H x W ground truth, nonzero on object (foreground) pixels.
        labels: labels painted so far (none: an unlabelled image).
        rng: the random source; the same state gives the same strokes.
        fg_radius: foreground brush radius in pixels (0: the skeleton only).
        bg_ratio: background pixels painted per foreground pixel (about).
        bg_margin: background strokes stay farther than this from every object pixel.
        bg_radius: background brush radius in pixels.
        coverage: share of the skeleton's branches that get a foreground stroke.
        empty_bg_fraction: share of the image painted background when it has no object.

    Returns:
        Foreground strokes (one group per branch), then background strokes (one group
        each), and the labels they give.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    base = np.zeros(mask.shape, np.uint8) if labels is None else np.asarray(labels, np.uint8)
    if base.shape != mask.shape:
        raise ValueError(f"labels {base.shape} do not match mask {mask.shape}")
    fg = foreground_plan_strokes(mask, rng=rng, fg_radius=fg_radius, coverage=coverage)
    fg_pixels = int(np.count_nonzero(paint(np.zeros_like(base), fg)))
    target = round(bg_ratio * fg_pixels) if fg_pixels else round(empty_bg_fraction * mask.size)
    bg = background_plan_strokes(
        mask,
        rng=rng,
        target_pixels=target,
        bg_margin=bg_margin,
        bg_radius=bg_radius,
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

    The labels of :func:`cluster.simulate.strokes.plan_corrections` with brushes no larger than
    ``max(fg_radius, bg_radius)``; earlier labels away from the errors are kept.

    Args:
        mask: H x W ground truth, nonzero on object pixels.
        predicted: H x W boolean (or 0/1) prediction shown to the user.
        labels: the labels painted so far (0 unlabelled, 1 background, 2 foreground).

    Returns:
        The corrected labels, a new H x W uint8 array.
    """
    return plan_corrections(mask, predicted, labels, max_radius=max(fg_radius, bg_radius, 0)).labels
