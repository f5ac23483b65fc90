"""The simulated user of a bench run: what it paints on an image and how long that takes.

The strokes and the time models come from :mod:`cluster.simulate`; this module picks the
plan for the protocol's phase and scores it against the truth (spill: painted pixels of
the wrong class; error pixels of the segmentation shown, and those left uncorrected).
The user works at a human pace: a clear example costs at most ``CLEAR_EXAMPLE_SECONDS``
of mouse time, corrections at most ``correction_seconds`` an image, the largest error
regions first (:mod:`cluster.simulate.pace`); ``correction_seconds`` None corrects every
error region however small, as RootPainter's own benchmark does.

*Confident* (docs/method.md, "The simulated annotator": switch to corrections once the model's
predictions are confident, > 0.8) is measured on the segmentation the user is shown:
the mean over the image's pixels of max(p, 1 - p), p the foreground probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cluster.api import BACKGROUND, FOREGROUND
from cluster.simulate.annotation_time import KeyboardTimeModel, MouseTimeModel, annotation_seconds
from cluster.simulate.clear_examples import CLEAR_EXAMPLE_SECONDS, clear_example_plan
from cluster.simulate.corrections import plan_corrections
from cluster.simulate.pace import plan_paced_corrections
from cluster.simulate.strokes import AnnotationPlan, plan_dense

CONFIDENT = 0.8


def confidence(probability: np.ndarray) -> float:
    """Mean of max(p, 1 - p) over the pixels: 0.5 for a coin toss, 1 for certainty."""
    p = np.asarray(probability, dtype=np.float32)
    return float(np.maximum(p, 1.0 - p).mean()) if p.size else 0.0


def spill(labels: np.ndarray, truth: np.ndarray) -> int:
    """Painted pixels that contradict the truth (foreground off objects, background on them)."""
    truth = np.asarray(truth, dtype=bool)
    wrong_fg = np.count_nonzero((labels == FOREGROUND) & ~truth)
    wrong_bg = np.count_nonzero((labels == BACKGROUND) & truth)
    return int(wrong_fg + wrong_bg)


@dataclass(frozen=True)
class UserAction:
    """What the simulated user did on one image."""

    plan: AnnotationPlan
    mouse_seconds: float
    keyboard_seconds: float
    spill: int
    budget_seconds: float = math.nan  # the mouse time the user allowed itself (nan: no limit)
    error_px: int = 0  # pixels the segmentation shown got wrong (corrections only)
    uncorrected_px: int = 0  # of those, still not labelled with the truth afterwards

    @property
    def labels(self) -> np.ndarray:
        """The image's labels after painting (0 unlabelled, 1 background, 2 foreground)."""
        return self.plan.labels

    @property
    def error_regions(self) -> int:
        """Error regions the plan covers (0 for clear examples and dense labels)."""
        return int(self.plan.error_regions)


class SimulatedUser:
    """Paints clear examples, corrections or dense labels from the ground truth."""

    def __init__(self, *, seed: int, correction_seconds: float | None) -> None:
        self.rng = np.random.default_rng(seed)
        self.mouse = MouseTimeModel()
        self.keyboard = KeyboardTimeModel()
        self.correction_seconds = correction_seconds

    def _timed(
        self, plan: AnnotationPlan, truth: np.ndarray, budget: float | None = None
    ) -> UserAction:
        shape = truth.shape
        return UserAction(
            plan=plan,
            mouse_seconds=float(annotation_seconds(plan, self.mouse, image_shape=shape)),
            keyboard_seconds=float(annotation_seconds(plan, self.keyboard, image_shape=shape)),
            spill=spill(plan.labels, truth),
            budget_seconds=math.nan if budget is None else float(budget),
        )

    def clear_examples(self, truth: np.ndarray, labels: np.ndarray | None = None) -> UserAction:
        """Clear parts of both classes, no model shown (the initial phase)."""
        plan = clear_example_plan(truth, labels, rng=self.rng, seconds=CLEAR_EXAMPLE_SECONDS)
        return self._timed(plan, truth, CLEAR_EXAMPLE_SECONDS)

    def corrections(
        self, truth: np.ndarray, predicted: np.ndarray, labels: np.ndarray
    ) -> UserAction:
        """The largest error regions of ``predicted`` corrected in the time allowed (every
        region without a limit), with zero spill."""
        seconds = self.correction_seconds
        if seconds is None:
            plan = plan_corrections(truth, predicted, labels)
        else:
            plan = plan_paced_corrections(truth, predicted, labels, seconds=seconds)
        truth = np.asarray(truth, dtype=bool)
        errors = np.asarray(predicted, dtype=bool) != truth
        wanted = np.where(truth, FOREGROUND, BACKGROUND)
        action = self._timed(plan, truth, seconds)
        return replace(
            action,
            error_px=int(np.count_nonzero(errors)),
            uncorrected_px=int(np.count_nonzero(errors & (plan.labels != wanted))),
        )

    def dense(self, truth: np.ndarray) -> UserAction:
        """Every pixel labelled but a thin band along the boundaries."""
        return self._timed(plan_dense(truth), truth)
