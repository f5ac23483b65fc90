"""A simulated user at a human pace: plans cut to a time budget, what matters most first.

RootPainter's users annotated about 36 s an image, clear examples included, so they
fixed what they saw first and moved on. A :class:`MouseBudget` spends a user's mouse
seconds on an image as :func:`cluster.simulate.annotation_time.annotation_seconds` prices
them (a confirmation scan per image, a search per stroke group, moving and painting) and
cuts the stroke during which time runs out where it runs out, so the plan it gives is
priced at most the budget. :func:`plan_paced_corrections` corrects the error regions with
the most pixels still unlabelled first, each with the zero-spill strokes of
:func:`cluster.simulate.corrections.correction_groups`, and leaves alone regions smaller
than ``WORTH_CORRECTING_PX``: an image with none larger has nothing worth correcting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from cluster.simulate.annotation_time import (
    MouseTimeModel,
    mouse_paint_seconds,
    mouse_reach_seconds,
    start_position,
)
from cluster.simulate.corrections import correction_groups
from cluster.simulate.strokes import (
    DEFAULT_MAX_RADIUS,
    AnnotationPlan,
    KeyboardAction,
    Stroke,
    paint,
)

WORTH_CORRECTING_PX = 10  # smaller error regions (a 3 x 3 speck) are not worth a stroke


class MouseBudget:
    """Mouse seconds a user allows for one image, spent stroke group by stroke group.

    ``seconds`` None is no limit. The pointer starts at the image centre, as priced.
    """

    def __init__(
        self,
        seconds: float | None,
        *,
        image_shape: tuple[int, int],
        model: MouseTimeModel | None = None,
    ) -> None:
        self.model = model or MouseTimeModel()
        self.seconds = math.inf if seconds is None else float(seconds)
        self.spent = self.model.check_s
        self.position = start_position(image_shape)
        self.previous: Stroke | None = None

    def left(self, limit: float | None = None) -> float:
        """Seconds left, within ``limit`` seconds spent in all when given."""
        cap = self.seconds if limit is None else min(self.seconds, limit)
        return cap - self.spent

    def take(
        self, strokes: Sequence[Stroke], *, limit: float | None = None
    ) -> tuple[list[Stroke], bool]:
        """The strokes of one group painted in the time left (within ``limit`` spent in all).

        A search comes first; the stroke during which time runs out is cut where it does
        (dropped if not even a dab fits), and nothing after it is painted.

        Returns:
            (the strokes painted, True if they are the whole group).
        """
        if not strokes or self.left(limit) < self.model.search_s:
            return [], not strokes
        self.spent += self.model.search_s
        kept: list[Stroke] = []
        for stroke in strokes:
            reach = mouse_reach_seconds(stroke, self.model, self.position, self.previous)
            cut = _cut(stroke, self.left(limit) - reach, self.model)
            if cut is not None:
                kept.append(cut)
                self.spent += reach + mouse_paint_seconds(cut, self.model)
                self.position, self.previous = cut.path[-1], cut
            if cut is None or len(cut.path) < len(stroke.path):
                break
        else:
            return kept, True
        if not kept:
            self.spent -= self.model.search_s  # nothing painted: no search to price
        return kept, False


def _cut(stroke: Stroke, seconds: float, model: MouseTimeModel) -> Stroke | None:
    """The start of ``stroke`` painted in ``seconds`` (None if not even a dab fits)."""
    if mouse_paint_seconds(stroke, model) <= seconds:
        return stroke
    if seconds < 1.0 / model.event_hz:
        return None
    steps = np.hypot(*np.diff(stroke.path.astype(np.float64), axis=0).T)
    reach = np.concatenate([[0.0], np.cumsum(steps)])
    points = int(np.searchsorted(reach, seconds * model.paint_px_per_s, side="right"))
    return Stroke(stroke.label, stroke.radius, stroke.path[: max(1, points)], stroke.group)


def plan_paced_corrections(
    mask: np.ndarray,
    predicted: np.ndarray,
    labels: np.ndarray,
    *,
    seconds: float | None,
    min_region_pixels: int = WORTH_CORRECTING_PX,
    max_radius: int = DEFAULT_MAX_RADIUS,
    model: MouseTimeModel | None = None,
) -> AnnotationPlan:
    """Corrections, largest error regions first, until ``seconds`` of mouse time are spent.

    Args:
        mask: H x W ground truth, nonzero on object (foreground) pixels.
        predicted: H x W boolean (or 0/1) segmentation shown to the user.
        labels: H x W uint8 labels painted so far.
        seconds: the user's mouse time for the image (None: every region is corrected).
        min_region_pixels: error regions smaller than this are left alone.
        max_radius: the largest brush radius used.
        model: the mouse model that prices the strokes (RootPainter's by default).

    Returns:
        The plan, priced at most ``seconds`` by the mouse model; its ``error_regions``
        counts the regions it paints (0: nothing worth correcting, or no time).
    """
    budget = MouseBudget(seconds, image_shape=mask.shape, model=model)
    strokes: list[Stroke] = []
    keyboard: dict[int, list[KeyboardAction]] = {}
    regions = 0
    groups = correction_groups(
        mask,
        predicted,
        labels,
        max_radius=max_radius,
        min_region_pixels=min_region_pixels,
        largest_first=True,
    )
    for group in groups:
        kept, whole = budget.take(group.strokes)
        if kept:
            strokes += kept
            if group.keyboard and whole:
                keyboard[regions] = group.keyboard  # `x` stands for a whole region only
            regions += 1
        if not whole:
            break
    return AnnotationPlan(strokes, paint(labels, strokes), regions, keyboard)
