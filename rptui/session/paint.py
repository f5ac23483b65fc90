"""Painting in the review session: the brush, the class keys 1-9, X and box fill.

:class:`Painting` is a mixin of :class:`rptui.session.review.ReviewSession`; it works on the
session's annotation and segmentation of the image on screen. Labels follow the seam:
background ``BACKGROUND`` (1), foreground class k paints ``k + 1``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND
from rptui.session.stack import brush_name, brush_setting
from rptui.session.state import ReviewState
from rptui.store.annotation import BINARY_CLASSES
from rptui.store.undo import Box

MAX_BRUSH_RADIUS = 200
DEFAULT_BRUSH_RADIUS = 3


class Painting(ReviewState):
    """The brush and the edits that paint with it (see the module docstring)."""

    classes: tuple[str, ...]
    brush_value: int
    paint_value: int
    box_mark: tuple[int, int] | None

    @property
    def n_classes(self) -> int:
        """K, the project's classes including background."""
        return len(self.classes)

    def choose_class(self, number: int) -> bool:
        """Paint foreground class ``number`` (1-based: keys 1-9) from now on; False when the
        project has no such class."""
        if not 1 <= number < self.n_classes:
            return False
        self.paint_value = self.brush_value = number + 1
        return True

    def use_brush(self, value: int) -> None:
        """Paint ``value``: ``FOREGROUND`` means the chosen class, else background or eraser."""
        self.brush_value = self.paint_value if value == FOREGROUND else value

    @property
    def brush_name(self) -> str:
        """What the brush paints, for the status line (the class name, multi-class)."""
        return brush_name(self.brush_value, self.classes)

    @property
    def paint_colour(self) -> tuple[int, int, int] | None:
        """The colour of the class the brush paints (multi-class only), else None."""
        if self.n_classes <= BINARY_CLASSES or self.brush_value < FOREGROUND:
            return None
        return self.project.class_colours()[self.classes[self.brush_value - 1]]

    @property
    def brush_radius(self) -> int:
        """The radius of the current brush (kept per brush in the project settings)."""
        settings = self.project.config.settings
        return int(settings.get(brush_setting(self.brush_value), DEFAULT_BRUSH_RADIUS))

    def set_brush_radius(self, radius: int) -> None:
        """Change the current brush's radius (0..MAX_BRUSH_RADIUS)."""
        radius = min(max(int(radius), 0), MAX_BRUSH_RADIUS)
        self.project.config.settings[brush_setting(self.brush_value)] = radius

    def paint_point(self, y: int, x: int) -> Box:
        """A dab of the current brush at (y, x)."""
        return self.annotation.paint_point(y, x, radius=self.brush_radius, value=self.brush_value)

    def paint_line(self, points: list[tuple[int, int]]) -> Box:
        """A stroke of the current brush through ``points``."""
        return self.annotation.paint_stroke(
            points, radius=self.brush_radius, value=self.brush_value
        )

    def mark_false_positive(self, y: int, x: int) -> Box | None:
        """Label the predicted region (of any class) under (y, x) background; None when nothing
        is predicted there."""
        seg = self.segmentation
        if seg is None or not seg[y, x]:
            return None
        regions, _ = ndimage.label(seg == seg[y, x], structure=np.ones((3, 3), bool))
        return self.annotation.fill_mask(regions == regions[y, x], value=BACKGROUND)

    def box_mark_or_fill(self, y: int, x: int) -> Box | None:
        """First call marks a corner; the second fills the box between the marks."""
        if self.box_mark is None:
            self.box_mark = (y, x)
            return None
        (y0, x0), self.box_mark = self.box_mark, None
        return self.annotation.fill_box(y0, x0, y, x, value=self.brush_value)
