"""Corrections a simulated user paints over a segmentation, with zero spill.

Every error region (an 8-connected component of false negatives or of false positives)
is covered with the true class; a brush disk never leaves the true class. Regions are
planned one at a time (:func:`correction_groups`) so that a user who works under a time
budget (:mod:`cluster.simulate.pace`) plans only what it paints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND
from cluster.simulate.dense import EIGHT_CONNECTED, cover, depth, halving_radii
from cluster.simulate.shortcuts import Shortcut, region_point
from cluster.simulate.strokes import (
    DEFAULT_MAX_RADIUS,
    AnnotationPlan,
    KeyboardAction,
    Stroke,
    check_shapes,
    offset_paths,
    paint,
    scan_boxes,
)


@dataclass(frozen=True)
class CorrectionGroup:
    """The strokes that correct one error region, and the keyboard's alternative if any."""

    strokes: list[Stroke]
    keyboard: list[KeyboardAction]


def correction_groups(
    mask: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    *,
    max_radius: int = DEFAULT_MAX_RADIUS,
    min_region_pixels: int = 1,
    largest_first: bool = False,
) -> Iterator[CorrectionGroup]:
    """The corrections of :func:`plan_corrections`, one error region at a time.

    Regions come false negatives first then false positives, each in scan order, or,
    with ``largest_first``, by the number of their pixels that still need a label,
    largest first. Each region is planned only when asked for, so a consumer that stops
    early (a user out of time) never pays for the rest. Group ``n`` is the n-th yielded.
    """
    check_shapes(mask, predicted, labels)
    truth = mask.astype(bool)
    wrong = predicted.astype(bool) != truth
    shown, _ = ndimage.label(predicted.astype(bool), structure=EIGHT_CONNECTED)
    classes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    queue: list[tuple[int, int, int, tuple[slice, slice]]] = []  # need, class, id, box
    for value, cls in ((FOREGROUND, truth), (BACKGROUND, ~truth)):
        errors = wrong & cls
        if not errors.any():
            continue
        need = errors & (np.asarray(labels) != value)
        components, count = ndimage.label(errors, structure=EIGHT_CONNECTED)
        sizes = np.bincount(components.ravel(), minlength=count + 1)
        needed = np.bincount(components[need], minlength=count + 1)
        classes[value] = (cls, components, need)
        queue += [
            (int(needed[k]), value, k, box)
            for k, box in scan_boxes(components, count, max_radius + 1)
            if needed[k] > 0 and sizes[k] >= min_region_pixels
        ]
    if largest_first:
        queue.sort(key=lambda item: -item[0])  # stable: scan order among equals
    depths: dict[int, np.ndarray] = {}
    group = 0
    for _, value, k, box in queue:
        cls, components, need = classes[value]
        region = components[box] == k
        targets = region & need[box]
        if not targets.any():
            continue
        if value not in depths:
            depths[value] = depth(cls)
        region_depth = depth(region)
        start = int(min(max_radius, region_depth.max()))
        allowed_depth = depths[value][box]
        keyboard: list[KeyboardAction] = []
        if value == BACKGROUND and _whole_component(shown[box], region, truth[box]):
            allowed_depth = region_depth
            point, reach = region_point(region, region_depth)
            origin = np.array([box[0].start, box[1].start], dtype=np.int32)
            keyboard = [Shortcut("region", value, point + origin, group, reach)]
        raw, done = cover(targets, allowed_depth, radii=halving_radii(start))
        need[box] &= ~done
        yield CorrectionGroup(
            [Stroke(value, r, p, group) for r, p in offset_paths(raw, box)], keyboard
        )
        group += 1


def plan_corrections(
    mask: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    *,
    max_radius: int = DEFAULT_MAX_RADIUS,
    min_region_pixels: int = 1,
) -> AnnotationPlan:
    """Strokes that correct every error of ``predicted`` with zero spill.

    False negatives are painted foreground and false positives background, one
    8-connected error region at a time in scan order. A region's first brush radius is
    its own half-thickness (capped by ``max_radius``); centres stay where the whole disk
    lies inside the true class; the radius halves in further passes down to 0 for what
    is left near boundaries. Error pixels already labelled with the truth need nothing.

    A false-positive region that is a whole 8-connected component of the prediction
    (no true foreground in it) is what the app's ``x`` labels background in one key: its
    strokes stay inside the region, so ``x`` and the strokes give the same labels, and
    the plan offers ``x`` as the keyboard alternative of that group.

    Args:
        mask: H x W ground truth, nonzero on object (foreground) pixels.
        predicted: H x W boolean (or 0/1) segmentation shown to the user.
        labels: H x W uint8 labels painted so far.
        max_radius: the largest brush radius used.
        min_region_pixels: error regions smaller than this are left alone.

    Returns:
        The plan; with ``predicted`` equal to the truth it has no strokes.
    """
    strokes: list[Stroke] = []
    keyboard: dict[int, list[KeyboardAction]] = {}
    regions = 0
    for regions, group in enumerate(
        correction_groups(
            mask, predicted, labels, max_radius=max_radius, min_region_pixels=min_region_pixels
        ),
        start=1,
    ):
        strokes += group.strokes
        if group.keyboard:
            keyboard[regions - 1] = group.keyboard
    return AnnotationPlan(strokes, paint(labels, strokes), regions, keyboard)


def _whole_component(shown: np.ndarray, region: np.ndarray, truth: np.ndarray) -> bool:
    """True when ``region`` is a whole component of ``shown`` (labelled) with no truth in it."""
    ids = np.unique(shown[region])
    if ids.size != 1 or ids[0] == 0:
        return False
    component = shown == ids[0]
    return bool(np.array_equal(component, region) and not (component & truth).any())
