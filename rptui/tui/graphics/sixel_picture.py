"""The canvas on a Sixel terminal: pixels overwrite pixels, so only changes are sent.

The picture remembers the colour it asked for at every pixel (cursor included) and
whether the terminal still shows it (text written over a Sixel image erases it). An
update draws one Sixel image per changed box, starting at a cell's corner, with every
pixel that did not change left transparent: a cursor move sends the old ring's pixels
back and the new ring, a dab the pixels it painted.

Textual repaints the whole screen now and then (a notification comes or goes, a dialog
closes), erasing the picture. The images sent since the view was last drawn whole are
kept, and sent again as they are rather than encoded afresh, unless something covers the
canvas or they have grown to several times a whole view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rptui.tui.graphics import sixel
from rptui.tui.graphics.escapes import Drawing
from rptui.tui.graphics.frame import (
    CursorPixels,
    Frame,
    PixelBox,
    clip_box,
    covered_mask,
    cursor_box,
    mask_box,
)

REPLAY_LIMIT = 3  # keep the images sent while they add up to at most this many whole views


@dataclass
class SixelPicture:
    """What the terminal shows of the canvas, and the Sixel images that bring it up to date."""

    _asked: np.ndarray | None = None  # (H, W, 3) the colour last sent for each pixel
    _shown: np.ndarray | None = None  # (H, W) the terminal still shows it
    _origin: tuple[int, int] | None = None
    _cursor: CursorPixels = field(default_factory=list)
    _stale: list[PixelBox] = field(default_factory=list)
    _erased: bool = False  # the whole picture is gone from the screen
    _sent: list[Drawing] | None = None  # the images since the last whole view (None: too many)
    _sent_size: int = 0
    _whole_size: int = 0
    _in_sent: np.ndarray | None = None  # (H, W) pixels those images draw

    def draw(self, frame: Frame) -> list[Drawing]:
        """Send every pixel of ``frame`` the terminal does not show yet."""
        height, width = frame.view.shape[:2]
        drawings: list[Drawing] = []
        if (
            frame.dirty is None
            or self._asked is None
            or self._asked.shape != frame.view.shape
            or frame.origin != self._origin
        ):
            self._start(frame)
            boxes = [(0, 0, height, width)]
        else:
            if self._erased:
                drawings, boxes = self._after_erasure(frame)
            else:
                boxes = []
            cursors = [cursor_box(self._cursor), cursor_box(frame.cursor)]
            boxes += [*frame.dirty, *self._stale, *(box for box in cursors if box)]
            self._stale = []
        self._cursor = list(frame.cursor)
        for box in boxes:
            clipped = clip_box(box, height, width)
            if clipped is not None:
                drawings += self._update(frame, clipped)
        return drawings

    def text_written(self, box: PixelBox) -> None:
        """Text over these pixels erased them: they are sent again on the next draw."""
        if self._shown is None:
            return
        clipped = clip_box(box, *self._shown.shape)
        if clipped is None:
            return
        if clipped == (0, 0, *self._shown.shape):
            self._erase()
            return
        y0, x0, y1, x1 = clipped
        self._shown[y0:y1, x0:x1] = False
        self._stale.append(clipped)

    def hide(self) -> list[Drawing]:
        """Another screen's text covers the picture: the next draw sends it again."""
        self._erase()
        return []

    def remove(self) -> list[Drawing]:
        """The terminal keeps no Sixel images apart from its screen: forget them."""
        self._asked = self._shown = self._sent = self._in_sent = None
        return []

    # ----- parts ---------------------------------------------------------------------
    def _start(self, frame: Frame) -> None:
        """A new view: nothing of it is on the screen yet."""
        self._asked = np.zeros_like(frame.view)
        self._shown = np.zeros(frame.view.shape[:2], bool)
        self._in_sent = np.zeros(frame.view.shape[:2], bool)
        self._origin, self._stale, self._erased = frame.origin, [], False
        self._sent, self._sent_size, self._whole_size = [], 0, 0

    def _erase(self) -> None:
        if self._shown is not None:
            self._shown[:] = False
            self._stale, self._erased = [], True

    def _after_erasure(self, frame: Frame) -> tuple[list[Drawing], list[PixelBox]]:
        """The images sent since the whole view, again; or the whole view to encode afresh."""
        assert self._shown is not None and self._in_sent is not None
        self._erased = False
        everything = (0, 0, *self._shown.shape)
        if self._sent is None or frame.covered or not self._sent:
            self._in_sent[:] = False  # the next whole view starts the images kept afresh
            self._sent, self._sent_size, self._whole_size = [], 0, 0
            return [], [everything]
        self._shown |= self._in_sent
        missing = mask_box(~self._shown)
        return list(self._sent), [missing] if missing is not None else []

    def _update(self, frame: Frame, box: PixelBox) -> list[Drawing]:
        assert self._asked is not None and self._shown is not None
        y0, x0, y1, x1 = box
        top, left = y0 - y0 % frame.cell.height, x0 - x0 % frame.cell.width  # a cell's corner
        wanted = frame.view[top:y1, left:x1].copy()
        for y, x, colour in frame.cursor:
            if top <= y < y1 and left <= x < x1:
                wanted[y - top, x - left] = colour
        asked = self._asked[top:y1, left:x1]
        shown = self._shown[top:y1, left:x1]
        send = ~shown | (wanted != asked).any(axis=-1)
        send[: y0 - top] = False
        send[:, : x0 - left] = False
        send &= ~covered_mask(frame.covered, (top, left, y1, x1))
        changed = mask_box(send)
        if changed is None:
            return []
        _, _, cy1, cx1 = changed
        send, wanted = send[:cy1, :cx1], wanted[:cy1, :cx1]
        palette, indices = sixel.palette_indices(wanted, send)
        asked[:cy1, :cx1][send] = wanted[send]
        shown[:cy1, :cx1] |= send
        row, column, _, _ = frame.cell_at(top, left)
        drawing = Drawing(row, column, (sixel.encode(indices, palette),))
        self._remember(drawing, send, (top, left))
        return [drawing]

    def _remember(self, drawing: Drawing, send: np.ndarray, at: tuple[int, int]) -> None:
        """Keep an image for a replay, while the images kept stay few."""
        if self._sent is None or self._in_sent is None:
            return
        size = sum(len(piece) for piece in drawing.pieces)
        self._whole_size = self._whole_size or size
        self._sent_size += size
        if self._sent_size > REPLAY_LIMIT * self._whole_size:
            self._sent = None
            return
        self._sent.append(drawing)
        top, left = at
        self._in_sent[top : top + send.shape[0], left : left + send.shape[1]] |= send
