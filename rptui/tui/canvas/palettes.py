"""The canvas's overlay colours: palettes for annotation, segmentation and cursor."""

from __future__ import annotations

from dataclasses import dataclass, replace

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    """Overlay colours for the canvas."""

    name: str
    foreground: RGB
    background: RGB
    segmentation: RGB
    cursor: RGB = (255, 255, 255)
    outside: RGB = (24, 24, 24)  # view pixels beyond the image
    blank: RGB = (0, 0, 0)  # the image when it is hidden
    # Multi-class projects: the colour of each foreground class, in class order. Empty for
    # binary projects, which draw ``foreground`` and ``segmentation`` as always.
    class_colours: tuple[RGB, ...] = ()

    def with_classes(self, colours: tuple[RGB, ...]) -> Palette:
        """This palette with foreground class colours (a multi-class project's)."""
        return replace(self, class_colours=tuple(colours))


DEFAULT_PALETTE = Palette(
    name="default",
    foreground=(255, 0, 0),
    background=(0, 255, 0),
    segmentation=(0, 230, 255),
)
# Okabe–Ito colours: vermillion / blue / yellow stay distinct for the common colour blindnesses.
COLOURBLIND_PALETTE = Palette(
    name="colourblind",
    foreground=(213, 94, 0),
    background=(0, 114, 178),
    segmentation=(240, 228, 66),
)
PALETTES: dict[str, Palette] = {p.name: p for p in (DEFAULT_PALETTE, COLOURBLIND_PALETTE)}
