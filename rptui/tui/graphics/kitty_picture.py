"""The canvas on a Kitty graphics terminal: the photo once per view, its overlay, patches.

The terminal stacks the pictures (all under the text, so a notification's words stay
readable over them) and blends the translucent ones:

* the background: one pixel of the colour around the image, scaled to the canvas's cells;
* the photo: the box of the view that differs from the background (the image, where it
  shows), sent once per view (image, zoom, pan, image layer, palette);
* the overlay: segmentation and annotation as one translucent picture (the box where
  there is any), sent again when a new mask or a large edit changes much of it;
* patches: a small edit (a dab) as the box of view pixels it changed, opaque;
* the cursor: a small transparent image sent when its shape changes; a move only places
  it again (a few dozen bytes).

A frame without layers (:attr:`Frame.layers` None) is all photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rptui.tui.canvas.layers import ViewLayers
from rptui.tui.graphics import kitty
from rptui.tui.graphics.escapes import Drawing
from rptui.tui.graphics.frame import Frame, PixelBox, clip_box, cursor_box, mask_box

BACKGROUND_Z, PHOTO_Z, OVERLAY_Z, PATCH_Z, CURSOR_Z = -5, -4, -3, -2, -1
PATCH_SHARE = 1 / 64  # an update changing more of the view sends the overlay again
MAX_PATCHES = 128  # then the overlay is sent afresh (patches cost the terminal memory)
MAX_PATCH_AREA = 1.0  # or when the patches add up to this many views' pixels
PLACEMENT = 1
FIRST_IMAGE_ID = 0x52_50_00_01  # ids in a range of their own


@dataclass(frozen=True)
class _Placed:
    row: int
    column: int
    keys: str


@dataclass
class KittyPicture:
    """What the terminal holds of the canvas, and the commands that bring it up to date."""

    next_id: int = FIRST_IMAGE_ID
    _view_ids: list[int] = field(default_factory=list)  # the background and the photo
    _overlay_id: int | None = None
    _patches: list[int] = field(default_factory=list)
    _patch_area: int = 0  # pixels of the patches over the view
    _placed: dict[int, _Placed] = field(default_factory=dict)
    _photo: np.ndarray | None = None  # the photo the terminal holds
    _shown: np.ndarray | None = None  # the view as the terminal shows it, without the cursor
    _origin: tuple[int, int] | None = None
    _cursor_id: int | None = None
    _sprite: bytes = b""
    _hidden: bool = False

    def draw(self, frame: Frame) -> list[Drawing]:
        """Bring the terminal's picture in step with ``frame``."""
        drawings = self._restore() if self._hidden else []
        layers = frame.layers
        if layers is None:
            layers = ViewLayers(frame.view, np.zeros((*frame.view.shape[:2], 4), np.uint8))
        shown = self._shown
        if (
            frame.dirty is None
            or shown is None
            or shown.shape != frame.view.shape
            or frame.origin != self._origin
            or self._photo_changed(frame.dirty, layers)
        ):
            drawings += self._send_view(frame, layers)
        else:
            drawings += self._update(frame, layers, frame.dirty)
        return drawings + self._draw_cursor(frame)

    def text_written(self, box: PixelBox) -> None:
        """Text does not erase Kitty images: nothing to do."""

    def hide(self) -> list[Drawing]:
        """Delete every placement; the terminal keeps the images for :meth:`draw` to restore."""
        if self._hidden:
            return []
        self._hidden = True
        return [Drawing(0, 0, (kitty.delete_placements(image),)) for image in self._placed]

    def remove(self) -> list[Drawing]:
        """Delete every image of the canvas."""
        images = [*self._placed]
        self._placed.clear()
        self._view_ids.clear()
        self._patches.clear()
        self._overlay_id = self._cursor_id = None
        self._photo = self._shown = None
        self._sprite = b""
        return [Drawing(0, 0, (kitty.delete_image(image),)) for image in images]

    # ----- parts ---------------------------------------------------------------------
    def _new_id(self) -> int:
        image, self.next_id = self.next_id, self.next_id + 1
        return image

    def _restore(self) -> list[Drawing]:
        self._hidden = False
        return [
            Drawing(p.row, p.column, (kitty.place(image, p.keys),))
            for image, p in self._placed.items()
        ]

    def _transmit(self, image: int, pixels: np.ndarray, at: tuple[int, int], keys: str) -> Drawing:
        self._placed[image] = _Placed(at[0], at[1], keys)
        return Drawing(at[0], at[1], kitty.transmit_and_place(image, kitty.png_bytes(pixels), keys))

    def _delete(self, images: list[int]) -> list[Drawing]:
        for image in images:
            self._placed.pop(image, None)
        return [Drawing(0, 0, (kitty.delete_image(image),)) for image in images]

    def _send_box(
        self, frame: Frame, pixels: np.ndarray, box: PixelBox, z: int
    ) -> tuple[int, Drawing]:
        """A new image of ``pixels`` (the view's ``box``) placed where the box is; its id."""
        row, column, y_offset, x_offset = frame.cell_at(box[0], box[1])
        keys = kitty.placement_keys(PLACEMENT, z=z, x_offset=x_offset, y_offset=y_offset)
        image = self._new_id()
        return image, self._transmit(image, pixels, (row, column), keys)

    def _photo_changed(self, dirty: list[PixelBox], layers: ViewLayers) -> bool:
        """The photo differs from the one the terminal holds within the changed boxes."""
        assert self._photo is not None
        height, width = self._photo.shape[:2]
        for box in dirty:
            clipped = clip_box(box, height, width)
            if clipped is None:
                continue
            y0, x0, y1, x1 = clipped
            if not np.array_equal(layers.photo[y0:y1, x0:x1], self._photo[y0:y1, x0:x1]):
                return True
        return False

    def _send_view(self, frame: Frame, layers: ViewLayers) -> list[Drawing]:
        """The background, photo and overlay as new images, then the old ones deleted."""
        old = [*self._view_ids]
        old += [image for image in (self._overlay_id, *self._patches) if image is not None]
        height, width = frame.view.shape[:2]
        photo = layers.photo
        background = photo[:1, :1]
        cells = (-(-width // frame.cell.width), -(-height // frame.cell.height))
        keys = kitty.placement_keys(PLACEMENT, z=BACKGROUND_Z, cells=cells)
        self._view_ids = [self._new_id()]
        drawings = [self._transmit(self._view_ids[0], background, frame.origin, keys)]
        box = mask_box((photo != background).any(axis=-1))
        if box is not None:
            y0, x0, y1, x1 = box
            image, drawing = self._send_box(frame, photo[y0:y1, x0:x1], box, PHOTO_Z)
            self._view_ids.append(image)
            drawings.append(drawing)
        drawings += self._send_overlay(frame, layers, old)
        self._photo, self._origin = photo.copy(), frame.origin
        return drawings

    def _send_overlay(
        self, frame: Frame, layers: ViewLayers, old: list[int] | None = None
    ) -> list[Drawing]:
        """The overlay as a new image over the photo; the old one and the patches deleted."""
        if old is None:
            old = [image for image in (self._overlay_id, *self._patches) if image is not None]
        drawings = []
        self._overlay_id = None
        box = mask_box(layers.overlay[..., 3] > 0)
        if box is not None:
            y0, x0, y1, x1 = box
            overlay = layers.overlay[y0:y1, x0:x1]
            self._overlay_id, drawing = self._send_box(frame, overlay, box, OVERLAY_Z)
            drawings.append(drawing)
        self._patches.clear()
        self._patch_area = 0
        self._shown = frame.view.copy()
        return drawings + self._delete(old)

    def _update(self, frame: Frame, layers: ViewLayers, dirty: list[PixelBox]) -> list[Drawing]:
        """Patches for the pixels that changed, or the overlay again when they are many."""
        changes = [box for box in (self._changed(frame, box) for box in dirty) if box]
        if not changes:
            return []
        area = sum((y1 - y0) * (x1 - x0) for y0, x0, y1, x1 in changes)
        view_area = frame.view.shape[0] * frame.view.shape[1]
        if (
            area > PATCH_SHARE * view_area
            or len(self._patches) + len(changes) > MAX_PATCHES
            or self._patch_area + area > MAX_PATCH_AREA * view_area
        ):
            return self._send_overlay(frame, layers)
        return [self._patch(frame, box) for box in changes]

    def _changed(self, frame: Frame, box: PixelBox) -> PixelBox | None:
        """The box of the pixels of ``box`` that differ from what the terminal shows."""
        assert self._shown is not None
        clipped = clip_box(box, *frame.view.shape[:2])
        if clipped is None:
            return None
        y0, x0, y1, x1 = clipped
        changed = mask_box((frame.view[y0:y1, x0:x1] != self._shown[y0:y1, x0:x1]).any(axis=-1))
        if changed is None:
            return None
        cy0, cx0, cy1, cx1 = changed
        return y0 + cy0, x0 + cx0, y0 + cy1, x0 + cx1

    def _patch(self, frame: Frame, box: PixelBox) -> Drawing:
        """The view's pixels in ``box`` as an opaque patch over photo and overlay."""
        assert self._shown is not None
        y0, x0, y1, x1 = box
        pixels = frame.view[y0:y1, x0:x1]
        image, drawing = self._send_box(frame, pixels, box, PATCH_Z)
        self._patches.append(image)
        self._patch_area += (y1 - y0) * (x1 - x0)
        self._shown[y0:y1, x0:x1] = pixels
        return drawing

    def _draw_cursor(self, frame: Frame) -> list[Drawing]:
        """Send the cursor when its look changed, else only place it where it is now."""
        box = cursor_box(frame.cursor)
        if box is None:
            if self._cursor_id is None or self._cursor_id not in self._placed:
                return []
            del self._placed[self._cursor_id]
            return [Drawing(0, 0, (kitty.delete_placements(self._cursor_id),))]
        y0, x0, y1, x1 = box
        sprite = np.zeros((y1 - y0, x1 - x0, 4), np.uint8)
        for y, x, colour in frame.cursor:
            sprite[y - y0, x - x0] = (*colour, 255)
        row, column, y_offset, x_offset = frame.cell_at(y0, x0)
        keys = kitty.placement_keys(PLACEMENT, z=CURSOR_Z, x_offset=x_offset, y_offset=y_offset)
        placed = _Placed(row, column, keys)
        look = sprite.tobytes() + bytes(str(sprite.shape), "ascii")
        if self._cursor_id is None or look != self._sprite:
            drawings = []
            if self._cursor_id is not None:
                drawings += self._delete([self._cursor_id])
            self._cursor_id, self._sprite = self._new_id(), look
            return [*drawings, self._transmit(self._cursor_id, sprite, (row, column), keys)]
        if self._placed.get(self._cursor_id) == placed:
            return []
        self._placed[self._cursor_id] = placed
        return [Drawing(row, column, (kitty.place(self._cursor_id, keys),))]
