"""The view as layers, for terminals that stack pictures: the photo, and the overlays over it.

A Kitty graphics terminal blends a translucent picture over another, so the photo can be
sent once per view and a new mask or a stroke sends only the overlay. The overlay holds,
per pixel, one colour and an alpha that together do what the segmentation and annotation
blends of :func:`rptui.tui.canvas.render.render_view` do over any photo pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ViewLayers:
    """A view (or part of one) as a photo and a translucent overlay.

    Attributes:
        photo: (H, W, 3) uint8, the image (or the blank colour) and the outside.
        overlay: (H, W, 4) uint8, colour and alpha (0: nothing over the photo).
    """

    photo: np.ndarray
    overlay: np.ndarray

    def composite(self) -> np.ndarray:
        """The view as a terminal shows it: the overlay blended over the photo."""
        return composite(self.photo, self.overlay)

    def part(self, rows: slice, columns: slice) -> ViewLayers:
        """The layers of a box of the view."""
        return ViewLayers(self.photo[rows, columns], self.overlay[rows, columns])

    def paste(self, y: int, x: int, part: ViewLayers) -> None:
        """Write ``part`` into these layers with its top-left pixel at (y, x)."""
        height, width = part.photo.shape[:2]
        self.photo[y : y + height, x : x + width] = part.photo
        self.overlay[y : y + height, x : x + width] = part.overlay


def composite(photo: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """``overlay`` (RGBA) over ``photo`` (RGB), rounded as a terminal blends 8-bit colours."""
    out = photo.copy()
    covered = overlay[..., 3] > 0
    if covered.any():
        over = overlay[covered].astype(np.float64)
        alpha = over[:, 3:] / 255
        under = photo[covered]
        out[covered] = np.rint(over[:, :3] * alpha + under * (1 - alpha)).astype(np.uint8)
    return out


def overlay_from_blends(zero: np.ndarray, full: np.ndarray) -> np.ndarray:
    """The RGBA overlay equal to a blend, from its result over black and over white.

    A blend of colours over a pixel ``p`` gives ``p * t + c`` (``t``: what shows through,
    ``c``: the colours' share), the same for every ``p``: over black (``zero``, float HxWx3)
    it gives ``c``, over white (``full``) ``255 t + c``. The overlay is colour ``c / (1 - t)``
    with alpha ``1 - t``.
    """
    through = np.clip((full[..., 0] - zero[..., 0]) / 255.0, 0.0, 1.0)
    alpha = 1.0 - through
    out = np.zeros((*zero.shape[:2], 4), np.uint8)
    covered = alpha > 0.5 / 255
    if covered.any():
        shown = alpha[covered][:, None]
        out[covered, :3] = np.clip(np.rint(zero[covered] / shown), 0, 255).astype(np.uint8)
        out[covered, 3] = np.rint(shown[:, 0] * 255).astype(np.uint8)
    return out
