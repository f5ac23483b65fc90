"""Which part of the image the canvas shows, and how large: zoom, pan, coordinates.

A view pixel is half a terminal cell (cells show two pixels stacked); :class:`Viewport`
maps view pixels to full-resolution image pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ZOOM_FACTOR = 2.0
MAX_MAGNIFICATION = 16  # view pixels per image pixel at the closest zoom


@dataclass
class Viewport:
    """Which part of the image the view shows, and how large.

    ``scale`` is image pixels per view pixel (< 1: magnified); ``origin_y``/``origin_x``
    are the image coordinates of the view's top-left corner (negative when the image
    is smaller than the view and centred in it).
    """

    image_h: int
    image_w: int
    view_h: int
    view_w: int
    scale: float = 1.0
    origin_y: float = 0.0
    origin_x: float = 0.0

    @classmethod
    def fitted(cls, image_h: int, image_w: int, view_h: int, view_w: int) -> Viewport:
        """A viewport showing the whole image."""
        viewport = cls(image_h, image_w, view_h, view_w)
        viewport.fit()
        return viewport

    @property
    def fit_scale(self) -> float:
        """The scale at which the whole image just fits the view."""
        fit = max(self.image_h / max(self.view_h, 1), self.image_w / max(self.view_w, 1))
        if fit <= 1.0:  # magnify small images by a whole number of view pixels
            return 1.0 / min(MAX_MAGNIFICATION, max(1, math.floor(1.0 / fit)))
        return fit

    @property
    def min_scale(self) -> float:
        """The closest zoom."""
        return 1.0 / MAX_MAGNIFICATION

    @property
    def max_scale(self) -> float:
        """The farthest zoom: the whole image (never less than 1:1)."""
        return max(self.fit_scale, 1.0)

    def fit(self) -> None:
        """Show the whole image, centred."""
        self.scale = self.fit_scale
        self.clamp()

    def resize(self, view_h: int, view_w: int) -> None:
        """Change the view size, keeping the image point at the view centre."""
        cy, cx = self.view_center_image()
        self.view_h, self.view_w = view_h, view_w
        self.place(cy, cx, view_h / 2, view_w / 2)

    def view_center_image(self) -> tuple[float, float]:
        """Image coordinates (float) at the centre of the view."""
        return (
            self.origin_y + self.view_h * self.scale / 2,
            self.origin_x + self.view_w * self.scale / 2,
        )

    def zoom_in(self, around: tuple[int, int] | None = None) -> None:
        """Magnify by one step, keeping the image pixel ``around`` where it is in the view."""
        if self.scale > 1.0:
            new = max(self.scale / ZOOM_FACTOR, 1.0)
        else:
            new = max(self.scale / ZOOM_FACTOR, self.min_scale)
        self._zoom_to(new, around)

    def zoom_out(self, around: tuple[int, int] | None = None) -> None:
        """Shrink by one step (no farther than the whole image)."""
        new = min(self.scale * ZOOM_FACTOR, self.max_scale)
        if self.scale < 1.0 < new:
            new = 1.0
        self._zoom_to(new, around)

    def _zoom_to(self, new_scale: float, around: tuple[int, int] | None) -> None:
        if around is None:
            cy, cx = self.view_center_image()
            vy, vx = self.view_h / 2, self.view_w / 2
        else:
            cy, cx = around[0] + 0.5, around[1] + 0.5
            vy = (cy - self.origin_y) / self.scale
            vx = (cx - self.origin_x) / self.scale
        self.scale = new_scale
        self.place(cy, cx, vy, vx)

    def place(self, iy: float, ix: float, vy: float, vx: float) -> None:
        """Put image point (iy, ix) at view position (vy, vx), then clamp."""
        self.origin_y = iy - vy * self.scale
        self.origin_x = ix - vx * self.scale
        self.clamp()

    def pan(self, dy: float, dx: float) -> None:
        """Move the view by (dy, dx) view pixels, clamped to the image."""
        self.origin_y += dy * self.scale
        self.origin_x += dx * self.scale
        self.clamp()

    def clamp(self) -> None:
        """Keep the image in view: centre it along an axis where it is smaller than the view."""
        self.origin_y = _clamp_axis(self.origin_y, self.scale, self.view_h, self.image_h)
        self.origin_x = _clamp_axis(self.origin_x, self.scale, self.view_w, self.image_w)

    def view_to_image(self, vy: int, vx: int) -> tuple[int, int]:
        """The image pixel at the centre of view pixel (vy, vx) (may be outside the image)."""
        return (
            math.floor(self.origin_y + (vy + 0.5) * self.scale),
            math.floor(self.origin_x + (vx + 0.5) * self.scale),
        )

    def image_to_view(self, iy: int, ix: int) -> tuple[int, int]:
        """The view pixel holding the centre of image pixel (iy, ix) (may be outside the view)."""
        return (
            math.floor((iy + 0.5 - self.origin_y) / self.scale),
            math.floor((ix + 0.5 - self.origin_x) / self.scale),
        )

    def view_rows_for(self, y0: int, y1: int) -> tuple[int, int]:
        """View pixel rows [start, stop) showing image rows [y0, y1), clipped to the view."""
        start = math.floor((y0 - self.origin_y) / self.scale)
        stop = math.ceil((y1 - self.origin_y) / self.scale)
        return max(0, start), min(self.view_h, max(stop, start + 1))

    def view_cols_for(self, x0: int, x1: int) -> tuple[int, int]:
        """View pixel columns [start, stop) showing image columns [x0, x1), clipped."""
        start = math.floor((x0 - self.origin_x) / self.scale)
        stop = math.ceil((x1 - self.origin_x) / self.scale)
        return max(0, start), min(self.view_w, max(stop, start + 1))


def _clamp_axis(origin: float, scale: float, view: int, image: int) -> float:
    extent = view * scale
    centred = (image - extent) / 2
    origin = centred if extent >= image else min(max(origin, 0.0), image - extent)
    if scale < 1.0:  # align image pixel edges with view pixel edges
        origin = round(origin / scale) * scale
    return origin
