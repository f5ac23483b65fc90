"""A simulated careful annotator: the "clear example" strokes of METHOD.md's protocol.

On the first images, with no model shown, a user labels clear parts of both classes:
thin foreground strokes along object centrelines and background strokes on clear
soil, about 5-10x more background than foreground. The strokes here never contradict
the ground truth: foreground only inside the eroded object or on its skeleton,
background only at least ``bg_margin`` pixels away from any object pixel.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.draw import line
from skimage.morphology import disk, skeletonize

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED

EMPTY_BG_FRACTION = 0.03  # background share of an image without objects
BG_STROKE_LENGTH = (16.0, 64.0)  # px, a straight drag of the mouse or the cursor
MAX_STROKES = 5000
JUNCTION_NEIGHBOURS = 3  # skeleton pixels with this many neighbours split branches


def _branches(skeleton: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the skeleton's branches (junction pixels removed), 8-connected."""
    neighbours = ndimage.convolve(skeleton.astype(np.uint8), np.ones((3, 3)), mode="constant")
    junctions = skeleton & (neighbours - 1 >= JUNCTION_NEIGHBOURS)
    return ndimage.label(skeleton & ~junctions, structure=np.ones((3, 3)))


def foreground_strokes(
    mask: np.ndarray, *, rng: np.random.Generator, fg_radius: int = 1, coverage: float = 0.6
) -> np.ndarray:
    """Boolean strokes along the centrelines of a random ``coverage`` share of branches.

    A stroke has radius ``fg_radius`` around the skeleton but is kept inside the object
    eroded by one pixel (or on the skeleton itself, for one- or two-pixel-wide objects).
    """
    objects = mask.astype(bool)
    skeleton = skeletonize(objects)
    branch_labels, count = _branches(skeleton)
    if count == 0:
        return np.zeros(objects.shape, dtype=bool)
    chosen = np.flatnonzero(rng.random(count) < coverage) + 1
    if chosen.size == 0:
        chosen = np.array([int(rng.integers(count)) + 1])
    centreline = np.isin(branch_labels, chosen)
    safe = ndimage.binary_erosion(objects) | skeleton
    if fg_radius > 0:
        centreline = ndimage.binary_dilation(centreline, structure=disk(fg_radius))
    return centreline & safe


def background_strokes(
    mask: np.ndarray,
    *,
    rng: np.random.Generator,
    target_pixels: int,
    bg_margin: float = 3.0,
    bg_radius: int = 2,
) -> np.ndarray:
    """Boolean straight strokes on clear background until about ``target_pixels`` are painted.

    Only pixels farther than ``bg_margin`` from every object pixel are painted.
    """
    objects = mask.astype(bool)
    height, width = objects.shape
    clear = (
        ndimage.distance_transform_edt(~objects) > bg_margin
        if objects.any()
        else np.ones(objects.shape, dtype=bool)
    )
    painted = np.zeros(objects.shape, dtype=bool)
    starts = np.argwhere(clear)
    if target_pixels <= 0 or starts.size == 0:
        return painted
    brush = disk(bg_radius)
    total = 0
    for _ in range(MAX_STROKES):
        r0, c0 = (int(v) for v in starts[rng.integers(len(starts))])
        angle = rng.uniform(0.0, 2.0 * math.pi)
        length = rng.uniform(*BG_STROKE_LENGTH)
        r1 = int(np.clip(round(r0 + length * math.sin(angle)), 0, height - 1))
        c1 = int(np.clip(round(c0 + length * math.cos(angle)), 0, width - 1))
        # Paint the stroke inside its bounding box grown by the brush radius.
        top, left = max(0, min(r0, r1) - bg_radius), max(0, min(c0, c1) - bg_radius)
        bottom = min(height, max(r0, r1) + bg_radius + 1)
        right = min(width, max(c0, c1) + bg_radius + 1)
        centre = np.zeros((bottom - top, right - left), dtype=bool)
        rr, cc = line(r0 - top, c0 - left, r1 - top, c1 - left)
        centre[rr, cc] = True
        stroke = ndimage.binary_dilation(centre, structure=brush) & clear[top:bottom, left:right]
        window = painted[top:bottom, left:right]
        total += int(np.count_nonzero(stroke & ~window))
        window |= stroke
        if total >= target_pixels:
            break
    return painted


def clear_example_labels(
    mask: np.ndarray,
    *,
    rng: np.random.Generator,
    fg_radius: int = 1,
    bg_ratio: float = 8.0,
    bg_margin: float = 3.0,
    bg_radius: int = 2,
    coverage: float = 0.6,
    empty_bg_fraction: float = EMPTY_BG_FRACTION,
) -> np.ndarray:
    """Labels a careful user paints on an image with no model shown.

    Args:
        mask: H x W ground truth, nonzero on object (foreground) pixels.
        rng: the random source; the same state gives the same labels.
        fg_radius: foreground brush radius in pixels (0: the skeleton only).
        bg_ratio: background pixels painted per foreground pixel (about).
        bg_margin: background strokes stay farther than this from every object pixel.
        bg_radius: background brush radius in pixels.
        coverage: share of the skeleton's branches that get a foreground stroke.
        empty_bg_fraction: share of the image painted background when it has no object.

    Returns:
        H x W uint8: 0 unlabelled, 1 background, 2 foreground.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    foreground = foreground_strokes(mask, rng=rng, fg_radius=fg_radius, coverage=coverage)
    fg_pixels = int(np.count_nonzero(foreground))
    target = round(bg_ratio * fg_pixels) if fg_pixels else round(empty_bg_fraction * mask.size)
    background = background_strokes(
        mask, rng=rng, target_pixels=target, bg_margin=bg_margin, bg_radius=bg_radius
    )
    labels = np.full(mask.shape, UNLABELLED, dtype=np.uint8)
    labels[background] = BACKGROUND
    labels[foreground] = FOREGROUND
    return labels


def correction_labels(
    mask: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    *,
    fg_radius: int = 1,
    bg_radius: int = 1,
) -> np.ndarray:
    """A corrective pass: every error covered, with zero spill onto the other class.

    False positives get background and false negatives foreground, each painted with
    a brush of the given radius but only on pixels of the true class (what a brush whose
    disk stays inside the class mask can reach). Earlier labels elsewhere are kept.

    Args:
        mask: H x W ground truth, nonzero on object pixels.
        predicted: H x W boolean (or 0/1) prediction shown to the user.
        labels: the labels painted so far (0 unlabelled, 1 background, 2 foreground).

    Returns:
        The corrected labels, a new H x W uint8 array.
    """
    objects = mask.astype(bool)
    shown = predicted.astype(bool)
    false_pos = shown & ~objects
    false_neg = ~shown & objects
    out = np.array(labels, dtype=np.uint8, copy=True)
    if false_pos.any():
        near = ndimage.binary_dilation(false_pos, structure=disk(bg_radius))
        out[near & ~objects] = BACKGROUND
    if false_neg.any():
        near = ndimage.binary_dilation(false_neg, structure=disk(fg_radius))
        out[near & objects] = FOREGROUND
    return out
