"""The annotation canvas: a keyboard-driven image view on Textual's line API.

Each terminal cell shows two view pixels stacked ("▀": foreground colour = upper pixel,
background colour = lower pixel). The rendered view is kept as an array; rows become
Strips with cached styles, and only the lines that change are redrawn. In a terminal that
shows true pixels (Kitty graphics or Sixel, see :mod:`rptui.tui.graphics`) a view pixel is
a device pixel instead: the text lines stay blank and :class:`TruePixels` sends the picture.

The canvas never paints: it shows the cursor and brush, and posts
:class:`AnnotationCanvas.CursorMoved` (with ``pen_down``) and, for mouse clicks and
drags, :class:`AnnotationCanvas.PaintRequested`. The screen paints into its annotation
and calls :meth:`AnnotationCanvas.mark_dirty` with the changed box. A zoom or a layer
shown or hidden posts :class:`AnnotationCanvas.ViewChanged`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeAlias

import numpy as np
from textual import events
from textual.binding import BindingType
from textual.strip import Strip
from textual.widget import Widget

from cluster.api import FOREGROUND
from rptui.tui.canvas.controls import CANVAS_BINDINGS, PAN_FRACTION, CanvasControls
from rptui.tui.canvas.cursor import CursorMarks, marks_by_line
from rptui.tui.canvas.display_tone import as_rgb8, quantise, quantise_even
from rptui.tui.canvas.half_blocks import HalfBlocks
from rptui.tui.canvas.layers import ViewLayers
from rptui.tui.canvas.lines import ImageBox, box_bounds, cells_for_box, line_regions, line_strip
from rptui.tui.canvas.messages import CursorMoved, PaintRequested, ViewChanged
from rptui.tui.canvas.palettes import DEFAULT_PALETTE, PALETTES, Palette
from rptui.tui.canvas.render import render_layers, render_view
from rptui.tui.canvas.true_pixels import TruePixelCanvas, TruePixels
from rptui.tui.canvas.viewport import Viewport

DEFAULT_COLOUR_BITS = 5
DEFAULT_BRUSH_RADIUS = 4
__all__ = [
    "DEFAULT_BRUSH_RADIUS",
    "DEFAULT_COLOUR_BITS",
    "PAN_FRACTION",
    "AnnotationCanvas",
    "ImageBox",
    "LabelsSource",
    "box_bounds",
]


class LabelsSource(Protocol):
    """Anything holding an HxW uint8 label image (e.g. ``rptui.store.annotation.Annotation``)."""

    @property
    def labels(self) -> np.ndarray: ...


class AnnotationCanvas(CanvasControls, TruePixelCanvas, Widget, can_focus=True):
    """Shows an image with segmentation and annotation overlays, a cursor and a brush ring.

    Navigation, key actions and mouse handling come from :class:`CanvasControls`; drawing
    in true pixels from :class:`TruePixelCanvas`.
    """

    DEFAULT_CSS = """
    AnnotationCanvas {
        width: 1fr;
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = CANVAS_BINDINGS

    CursorMoved: TypeAlias = CursorMoved
    PaintRequested: TypeAlias = PaintRequested
    ViewChanged: TypeAlias = ViewChanged

    def __init__(
        self,
        *,
        palette: Palette = DEFAULT_PALETTE,
        colour_bits: int = DEFAULT_COLOUR_BITS,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.palette = palette
        self.colour_bits = colour_bits
        self.show_image = True
        self.show_segmentation = True
        self.show_annotation = True
        self.seg_opacity = 0.45
        self.ann_opacity = 0.6
        self.brush_radius = DEFAULT_BRUSH_RADIUS
        self.brush_value = FOREGROUND
        self.pen_down = False
        self.viewport: Viewport | None = None
        self._image: np.ndarray | None = None
        self._segmentation: np.ndarray | None = None
        self._labels_source: LabelsSource | np.ndarray | None = None
        self._cursor = (0, 0)
        self._fitted = True
        self._view: np.ndarray | None = None  # quantised (view_h, view_w, 3) without cursor
        self._layers: ViewLayers | None = None  # the view's photo and overlay (Kitty graphics)
        self._strips: dict[int, Strip] = {}
        self._overlay: CursorMarks | None = None
        self._half_blocks = HalfBlocks()
        self._dragging = False
        self._true_pixels: TruePixels | None = None
        self._draw_pending = False

    # ----- state the screen sets -------------------------------------------------------

    def set_image(
        self,
        image: np.ndarray,
        *,
        segmentation: np.ndarray | None = None,
        labels_source: LabelsSource | np.ndarray | None = None,
        stretch: bool = False,
    ) -> None:
        """Show a new image (any dtype/channels; ``stretch`` for dim or 16-bit ones), fitted."""
        self._image = as_rgb8(image, stretch=stretch)
        self._segmentation = segmentation
        self._labels_source = labels_source
        h, w = self._image.shape[:2]
        self._cursor = (h // 2, w // 2)
        view_h, view_w = self._view_size()
        self.viewport = Viewport.fitted(h, w, view_h, view_w)
        self._fitted = True
        self._invalidate()

    def swap_image(
        self,
        image: np.ndarray,
        *,
        segmentation: np.ndarray | None = None,
        labels_source: LabelsSource | np.ndarray | None = None,
    ) -> None:
        """Show another image of the same size (a stack's next slice) keeping view and cursor."""
        rgb = as_rgb8(image)
        if self._image is None or self.viewport is None or rgb.shape != self._image.shape:
            self.set_image(image, segmentation=segmentation, labels_source=labels_source)
            return
        self._image = rgb
        self._segmentation = segmentation
        self._labels_source = labels_source
        self._invalidate(same_view=True)

    def set_segmentation(self, mask: np.ndarray | None) -> None:
        """Replace the segmentation overlay (HxW, nonzero = foreground), or remove it."""
        self._segmentation = mask
        self._invalidate(same_view=True)

    def set_labels_source(self, source: LabelsSource | np.ndarray | None) -> None:
        """Draw annotation labels from ``source`` (an object with ``.labels``, or an array)."""
        self._labels_source = source
        self._invalidate(same_view=True)

    def set_palette(self, palette: Palette | str) -> None:
        """Use another palette (a :class:`Palette` or a name in ``PALETTES``)."""
        self.palette = PALETTES[palette] if isinstance(palette, str) else palette
        self._invalidate(same_view=True)

    def set_opacity(
        self, *, segmentation: float | None = None, annotation: float | None = None
    ) -> None:
        """Overlay opacities in 0..1."""
        if segmentation is not None:
            self.seg_opacity = min(max(segmentation, 0.0), 1.0)
        if annotation is not None:
            self.ann_opacity = min(max(annotation, 0.0), 1.0)
        self._invalidate(same_view=True)

    def set_brush(
        self, *, radius: int | None = None, value: int | None = None, pen_down: bool | None = None
    ) -> None:
        """Brush radius (image pixels), value (FOREGROUND/BACKGROUND/UNLABELLED), pen state."""
        before = self._cursor_lines()
        if radius is not None:
            self.brush_radius = max(0, int(radius))
        if value is not None:
            self.brush_value = value
        if pen_down is not None:
            self.pen_down = pen_down
        self._overlay = None
        self._refresh_lines(before | self._cursor_lines())

    @property
    def labels(self) -> np.ndarray | None:
        """The label image being drawn, if any."""
        source = self._labels_source
        if source is None or isinstance(source, np.ndarray):
            return source
        return source.labels

    @property
    def cursor_image_position(self) -> tuple[int, int]:
        """The cursor in image pixels (y, x)."""
        return self._cursor

    # ----- redraws ---------------------------------------------------------------------

    def view_box_for(self, box: Any) -> tuple[int, int, int, int] | None:
        """Cell lines and columns (line0, col0, line1, col1) showing an image box, or None."""
        if self.viewport is None:
            return None
        return cells_for_box(self.viewport, box, self.cell_pixels)

    def mark_dirty(self, box: Any) -> None:
        """Redraw the lines showing an image box (y0, x0, y1, x1) after painting into it."""
        if box is None or self.viewport is None:
            return
        cells = self.view_box_for(box)
        if cells is None:
            return
        if self._view is None:
            self.refresh()
            return
        line0, column0, line1, column1 = cells
        width, height = self.cell_pixels
        y0, y1 = height * line0, min(height * line1, self.viewport.view_h)
        x0, x1 = width * column0, min(width * column1, self.viewport.view_w)
        view, layers = self._render_part(rows=(y0, y1), columns=(x0, x1))
        self._view[y0:y1, x0:x1] = view
        if layers is not None and self._layers is not None:
            self._layers.paste(y0, x0, layers)
        if self._true_pixels is not None:
            self._true_pixels.dirty((y0, x0, y1, x1))
        self._refresh_lines(set(range(line0, line1)))

    def _invalidate(self, *, same_view: bool = False) -> None:
        """Render the view again; ``same_view``: only what it shows changed, not where."""
        self._view = self._layers = None
        self._strips.clear()
        self._overlay = None
        pixels = self._true_pixels
        if pixels is None:
            self.refresh()
            return
        vp = self.viewport  # the text lines stay blank: only the picture changes
        if vp is not None and (same_view or pixels.showing(vp)):  # send the pixels that differ
            pixels.dirty((0, 0, vp.view_h, vp.view_w))
        else:
            pixels.invalidate(vp)
        self._schedule_pixels()

    def _refresh_lines(self, lines: set[int]) -> None:
        """Forget and repaint only the given cell lines (true pixels: send what changed)."""
        if self._true_pixels is not None:
            self._schedule_pixels()
            return
        if not lines:
            return
        for line in lines:
            self._strips.pop(line, None)
        self.refresh(*line_regions(lines, self.size.width))

    def _view_size(self) -> tuple[int, int]:
        width, height = self.cell_pixels
        return max(height * self.size.height, height), max(width * self.size.width, width)

    def _view_centre(self) -> tuple[float, float]:
        view_h, view_w = self._view_size()
        return view_h / 2, view_w / 2

    def on_resize(self, event: events.Resize) -> None:
        """Keep the view in step with the widget's size."""
        if self.viewport is None:
            return
        view_h, view_w = self._view_size()
        self.viewport.resize(view_h, view_w)
        if self._fitted:
            self.viewport.fit()
            self.post_message(ViewChanged(self))
        if self._true_pixels is not None:
            self._true_pixels.hub.moved()
        self._invalidate()

    def _render_part(
        self, rows: tuple[int, int] | None = None, columns: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, ViewLayers | None]:
        """View pixels (all, or ``rows`` x ``columns``), and their layers where the terminal
        stacks pictures (Kitty graphics: the view is the overlay blended over the photo)."""
        assert self._image is not None and self.viewport is not None
        pixels = self._true_pixels
        render = render_layers if pixels is not None and pixels.layered else render_view
        rendered = render(
            self._image,
            self.viewport,
            segmentation=self._segmentation,
            labels=self.labels,
            show_image=self.show_image,
            show_segmentation=self.show_segmentation,
            show_annotation=self.show_annotation,
            seg_opacity=self.seg_opacity,
            ann_opacity=self.ann_opacity,
            palette=self.palette,
            rows=rows,
            columns=columns,
        )
        if isinstance(rendered, ViewLayers):
            layers = ViewLayers(quantise_even(rendered.photo, self.colour_bits), rendered.overlay)
            return layers.composite(), layers
        return quantise(rendered, self.colour_bits), None

    def rendered_view(self) -> np.ndarray | None:
        """The current view (view pixels, (H, W, 3) uint8) without the cursor, rendering it."""
        if self._image is None or self.viewport is None:
            return None
        if (self.viewport.view_h, self.viewport.view_w) != self._view_size():
            self.viewport.resize(*self._view_size())
            if self._fitted:
                self.viewport.fit()
            self._view = self._layers = None
            self._strips.clear()
        if self._view is None:
            self._view, self._layers = self._render_part()
            self._strips.clear()
        return self._view

    def rendered_layers(self) -> ViewLayers | None:
        """The current view's photo and overlay (Kitty graphics only), rendering them."""
        self.rendered_view()
        return self._layers

    # ----- cursor ----------------------------------------------------------------------

    def _cursor_in_view(self) -> bool:
        assert self.viewport is not None
        vy, vx = self.viewport.image_to_view(*self._cursor)
        return 0 <= vy < self.viewport.view_h and 0 <= vx < self.viewport.view_w

    def _cursor_overlay(self) -> CursorMarks:
        """Cursor pixels by cell line (cached until the cursor, brush or view changes)."""
        if self._overlay is not None:
            return self._overlay
        if self.viewport is None or self._image is None:
            return {}
        self._overlay = marks_by_line(self.cursor_pixels())
        return self._overlay

    def _cursor_lines(self) -> set[int]:
        return set(self._cursor_overlay())

    # ----- line API --------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """One cell line: two view rows as half blocks."""
        width = self.size.width
        if self._true_pixels is not None:  # the picture lies over blank lines
            return Strip.blank(width, self.rich_style)
        view = self.rendered_view()
        if view is None or 2 * y >= view.shape[0]:
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(y)
        if strip is None:
            strip = self._strips[y] = self._build_strip(view, y)
        return strip

    def _build_strip(self, view: np.ndarray, y: int) -> Strip:
        return line_strip(view, y, self._cursor_overlay().get(y), self._half_blocks)
