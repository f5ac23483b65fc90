"""The canvas on a Kitty graphics terminal: one image per view, patches, a cursor sprite.

A new view (image, zoom, pan, layers) sends the whole view once, as a PNG scaled to the
canvas's cells. A brush dab sends a patch: only the box of pixels that changed, placed
over the view at its pixel offset. The cursor is a small transparent image sent when its
shape changes; a move only places it again (a few dozen bytes). Everything lies under
the text (negative z), so a notification's words stay readable over the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rptui.tui.graphics import kitty
from rptui.tui.graphics.escapes import Drawing
from rptui.tui.graphics.frame import Frame, PixelBox, clip_box, cursor_box, mask_box

VIEW_Z, PATCH_Z, CURSOR_Z = -3, -2, -1
MAX_PATCHES = 128  # then the view is sent afresh (patches cost the terminal memory)
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
    _view_id: int | None = None
    _patches: list[int] = field(default_factory=list)
    _patch_area: int = 0  # pixels of the patches over the view
    _placed: dict[int, _Placed] = field(default_factory=dict)
    _shown: np.ndarray | None = None  # the view as the terminal shows it
    _origin: tuple[int, int] | None = None
    _cursor_id: int | None = None
    _sprite: bytes = b""
    _hidden: bool = False

    def draw(self, frame: Frame) -> list[Drawing]:
        """Bring the terminal's picture in step with ``frame``."""
        drawings = self._restore() if self._hidden else []
        shown = self._shown
        if (
            frame.dirty is None
            or shown is None
            or shown.shape != frame.view.shape
            or frame.origin != self._origin
        ):
            drawings += self._send_view(frame)
        else:
            patches = []
            for box in frame.dirty:
                patches += self._patch(frame, box)
            view_area = frame.view.shape[0] * frame.view.shape[1]
            too_many = len(self._patches) > MAX_PATCHES
            if too_many or self._patch_area > MAX_PATCH_AREA * view_area:
                patches = self._send_view(frame)  # the patches' images go with the old view
            drawings += patches
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
        self._patches.clear()
        self._view_id = self._cursor_id = None
        self._shown, self._sprite = None, b""
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

    def _send_view(self, frame: Frame) -> list[Drawing]:
        """The whole view as a new image, then the old view and its patches deleted."""
        old = [image for image in (self._view_id, *self._patches) if image is not None]
        height, width = frame.view.shape[:2]
        cells = (-(-width // frame.cell.width), -(-height // frame.cell.height))
        image = self._view_id = self._new_id()
        keys = kitty.placement_keys(PLACEMENT, z=VIEW_Z, cells=cells)
        drawings = [self._transmit(image, frame.view, frame.origin, keys)]
        for gone in old:
            self._placed.pop(gone, None)
            drawings.append(Drawing(0, 0, (kitty.delete_image(gone),)))
        self._patches.clear()
        self._patch_area = 0
        self._shown, self._origin = frame.view.copy(), frame.origin
        return drawings

    def _patch(self, frame: Frame, box: PixelBox) -> list[Drawing]:
        """The changed pixels of ``box`` as a patch over the view (none if nothing changed)."""
        assert self._shown is not None
        clipped = clip_box(box, *frame.view.shape[:2])
        if clipped is None:
            return []
        y0, x0, y1, x1 = clipped
        new, old = frame.view[y0:y1, x0:x1], self._shown[y0:y1, x0:x1]
        changed = mask_box((new != old).any(axis=-1))
        if changed is None:
            return []
        cy0, cx0, cy1, cx1 = changed
        top, left = y0 + cy0, x0 + cx0
        pixels = new[cy0:cy1, cx0:cx1]
        row, column, y_offset, x_offset = frame.cell_at(top, left)
        keys = kitty.placement_keys(PLACEMENT, z=PATCH_Z, x_offset=x_offset, y_offset=y_offset)
        image = self._new_id()
        self._patches.append(image)
        self._patch_area += pixels.shape[0] * pixels.shape[1]
        self._shown[top : top + pixels.shape[0], left : left + pixels.shape[1]] = pixels
        return [self._transmit(image, pixels, (row, column), keys)]

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
                self._placed.pop(self._cursor_id, None)
                drawings.append(Drawing(0, 0, (kitty.delete_image(self._cursor_id),)))
            self._cursor_id, self._sprite = self._new_id(), look
            return [*drawings, self._transmit(self._cursor_id, sprite, (row, column), keys)]
        if self._placed.get(self._cursor_id) == placed:
            return []
        self._placed[self._cursor_id] = placed
        return [Drawing(row, column, (kitty.place(self._cursor_id, keys),))]
