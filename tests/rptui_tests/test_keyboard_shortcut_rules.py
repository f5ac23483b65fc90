"""The planner's copy of the app's ``x`` and ``r`` ``r`` rules paints what the app paints."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND
from cluster.simulate.shortcuts import Shortcut, apply_shortcut, box_mask, predicted_region
from rptui.session.paint import Brush
from rptui.store.annotation import Annotation

SHAPE = (40, 56)


def _brush(segmentation: np.ndarray, labels: np.ndarray) -> Brush:
    """The app's brush on just what its edits read: the segmentation and annotation shown."""
    project = SimpleNamespace(config=SimpleNamespace(classes=["background", "foreground"]))
    viewer = SimpleNamespace(
        segmentation=segmentation, annotation=Annotation(labels.copy()), visits=1
    )
    brush = Brush(project, viewer)  # type: ignore[arg-type]
    assert brush.value == FOREGROUND
    return brush


def test_x_paints_the_same_pixels_in_the_app_and_the_planner() -> None:
    rng = np.random.default_rng(0)
    for _ in range(10):
        speckle = rng.random(SHAPE) > 0.9
        segmentation = ndimage.binary_dilation(speckle).astype(np.uint8)
        labels = rng.integers(0, 3, SHAPE).astype(np.uint8)
        for y, x in rng.integers(0, SHAPE, size=(5, 2)).tolist():
            brush = _brush(segmentation, labels)
            changed = brush.mark_false_positive(y, x)
            region = predicted_region(segmentation, y, x)
            assert (changed is None) == (region is None)
            if region is None:
                continue
            shortcut = Shortcut("region", BACKGROUND, np.array([[y, x]]))
            planned = apply_shortcut(labels, shortcut, predicted=segmentation)
            assert np.array_equal(brush.viewer.annotation.labels, planned)


def test_r_r_fills_the_same_box_in_the_app_and_the_planner() -> None:
    rng = np.random.default_rng(1)
    for corners in rng.integers(0, SHAPE, size=(10, 2, 2)):
        brush = _brush(np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8))
        brush.box_mark_or_fill(*corners[0].tolist())
        brush.box_mark_or_fill(*corners[1].tolist())
        labels = brush.viewer.annotation.labels
        assert np.array_equal(labels == FOREGROUND, box_mask(corners, SHAPE))
