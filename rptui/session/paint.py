"""The brush of the review session: what it paints, its size, and the edits made with it.

A :class:`Brush` paints on the annotation of the image on screen (read from the
:class:`~rptui.session.view.Viewer` at each stroke): points, strokes, X (the predicted
region under the cursor becomes background) and box fill. Labels follow the seam:
background ``BACKGROUND`` (1), foreground class k paints ``k + 1``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND
from rptui.session.stack import brush_name
from rptui.session.view import Viewer
from rptui.store.annotation import BINARY_CLASSES
from rptui.store.project import Project
from rptui.store.undo import Box


class Brush:
    """The current brush: the label it paints (``value``) and the class keys 1-9 chose."""

    def __init__(self, project: Project, viewer: Viewer) -> None:
        self.project = project
        self.viewer = viewer
        self.classes = tuple(project.config.classes)
        self.class_value = FOREGROUND  # the class keys 1-9 chose (label value)
        self.value = FOREGROUND
        self._mark: tuple[int, int, int] | None = None  # (viewer visit, y, x) of box fill
        self.pen_down = False  # while down, the cursor's moves paint (one undo step)

    @property
    def n_classes(self) -> int:
        """K, the project's classes including background."""
        return len(self.classes)

    def choose_class(self, number: int) -> bool:
        """Paint foreground class ``number`` (1-based: keys 1-9) from now on; False when the
        project has no such class."""
        if not 1 <= number < self.n_classes:
            return False
        self.class_value = self.value = number + 1
        return True

    def use(self, value: int) -> None:
        """Paint ``value``: ``FOREGROUND`` means the chosen class, else background or eraser."""
        self.value = self.class_value if value == FOREGROUND else value

    @property
    def name(self) -> str:
        """What the brush paints, for the status line (the class name, multi-class)."""
        return brush_name(self.value, self.classes)

    @property
    def colour(self) -> tuple[int, int, int] | None:
        """The colour of the class the brush paints (multi-class only), else None."""
        if self.n_classes <= BINARY_CLASSES or self.value < FOREGROUND:
            return None
        return self.project.class_colours()[self.classes[self.value - 1]]

    @property
    def radius(self) -> int:
        """The radius of the current brush (kept per brush in the project settings)."""
        return self.project.config.settings.brush_radius(foreground=self.value >= FOREGROUND)

    def set_radius(self, radius: int) -> None:
        """Change the current brush's radius (kept within 0..MAX_BRUSH_RADIUS)."""
        self.project.config.settings.set_brush_radius(radius, foreground=self.value >= FOREGROUND)

    def paint_point(self, y: int, x: int) -> Box:
        """A dab of the current brush at (y, x)."""
        return self.viewer.annotation.paint_point(y, x, radius=self.radius, value=self.value)

    def paint_line(self, points: list[tuple[int, int]]) -> Box:
        """A stroke of the current brush through ``points``."""
        return self.viewer.annotation.paint_stroke(points, radius=self.radius, value=self.value)

    def put_pen_down(self, y: int, x: int) -> Box:
        """Start a stroke with a dab at (y, x); the cursor's moves paint until
        :meth:`lift_pen`, and the whole stroke is one undo step."""
        self.pen_down = True
        self.viewer.annotation.begin_stroke()
        return self.paint_point(y, x)

    def pen_moved(self, previous: tuple[int, int], position: tuple[int, int]) -> Box | None:
        """The cursor moved: a stroke from ``previous`` to ``position`` if the pen is down."""
        return self.paint_line([previous, position]) if self.pen_down else None

    def lift_pen(self) -> bool:
        """End the stroke (one undo step); False when the pen was up."""
        if not self.pen_down:
            return False
        self.pen_down = False
        self.viewer.annotation.end_stroke()
        return True

    def mark_false_positive(self, y: int, x: int) -> Box | None:
        """Label the predicted region (of any class) under (y, x) background; None when nothing
        is predicted there."""
        seg = self.viewer.segmentation
        if seg is None or not seg[y, x]:
            return None
        regions, _ = ndimage.label(seg == seg[y, x], structure=np.ones((3, 3), bool))
        return self.viewer.annotation.fill_mask(regions == regions[y, x], value=BACKGROUND)

    @property
    def box_mark(self) -> tuple[int, int] | None:
        """The first corner of a box fill, while the image it was marked on is shown."""
        if self._mark is None or self._mark[0] != self.viewer.visits:
            return None
        return self._mark[1], self._mark[2]

    def box_mark_or_fill(self, y: int, x: int) -> Box | None:
        """First call marks a corner; the second fills the box between the marks."""
        mark = self.box_mark
        if mark is None:
            self._mark = (self.viewer.visits, y, x)
            return None
        self._mark = None
        return self.viewer.annotation.fill_box(*mark, y, x, value=self.value)
