"""A pretend graphics terminal: decodes the Kitty and Sixel pictures an app writes.

Tests feed it what the app wrote and compare its pixels with the expected render. It knows
cursor moves (CUP, DECSC/DECRC), tmux passthrough, Kitty graphics commands (transmit PNG
in chunks, place, delete) and Sixel images (palette, repeats, bands, transparency).
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

ESC = "\x1b"
_CUP = re.compile(r"\x1b\[(\d+);(\d+)H")
_PASSTHROUGH = re.compile(r"\x1bPtmux;((?:[^\x1b]|\x1b\x1b)*)\x1b\\")
_SEQUENCE = re.compile(
    r"\x1b_G(?P<kitty>[^\x1b]*)\x1b\\"
    r"|\x1bP(?P<sixel_params>[0-9;]*)q(?P<sixel>[^\x1b]*)\x1b\\"
    r"|\x1b\[(?P<row>\d+);(?P<column>\d+)H"
    r"|\x1b(?P<save>7)|\x1b(?P<restore>8)"
)


@dataclass
class Placement:
    """A Kitty placement: where, how far into its cell, stacking, the part shown, scaling."""

    image: int
    row: int
    column: int
    x_offset: int
    y_offset: int
    z: int
    source: tuple[int, int, int, int] | None
    cells: tuple[int, int] | None


@dataclass
class PretendTerminal:
    """Pictures on a terminal of ``columns`` x ``rows`` cells of ``cell`` (width, height) pixels."""

    columns: int
    rows: int
    cell: tuple[int, int]
    images: dict[int, np.ndarray] = field(default_factory=dict)  # id -> RGBA
    placements: dict[tuple[int, int], Placement] = field(default_factory=dict)
    sixels: np.ndarray | None = None  # what Sixel images drew (RGB), -1 where none did
    cursor: tuple[int, int] = (0, 0)
    saved: tuple[int, int] = (0, 0)
    kitty_commands: int = 0
    sixel_images: int = 0
    _chunks: list[str] = field(default_factory=list)
    _first_keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        width, height = self.cell
        self.sixels = np.full((self.rows * height, self.columns * width, 3), -1, np.int16)

    # ----- input ---------------------------------------------------------------------
    def feed(self, text: str) -> None:
        """Interpret what the app wrote (text between the sequences is ignored).

        What passes through tmux is unwrapped first: pieces of one long sequence join.
        """
        text = _PASSTHROUGH.sub(lambda wrapped: wrapped[1].replace(ESC + ESC, ESC), text)
        for match in _SEQUENCE.finditer(text):
            if match["kitty"] is not None:
                self._kitty(match["kitty"])
            elif match["sixel"] is not None:
                self._sixel(match["sixel"])
            elif match["row"] is not None:
                self.cursor = (int(match["row"]) - 1, int(match["column"]) - 1)
            elif match["save"]:
                self.saved = self.cursor
            elif match["restore"]:
                self.cursor = self.saved

    # ----- Kitty ---------------------------------------------------------------------
    def _kitty(self, command: str) -> None:
        self.kitty_commands += 1
        control, _, payload = command.partition(";")
        keys = dict(pair.split("=", 1) for pair in control.split(",") if pair)
        if self._chunks:  # a continuation: only m (and q) may be given
            self._chunks.append(payload)
            if keys.get("m", "0") == "0":
                first, data = self._first_keys, "".join(self._chunks)
                self._chunks, self._first_keys = [], {}
                self._transmitted(first, data)
            return
        action = keys.get("a", "t")
        if action in ("t", "T"):
            if keys.get("m", "0") == "1":
                self._chunks, self._first_keys = [payload], keys
                return
            self._transmitted(keys, payload)
        elif action == "p":
            self._place(keys)
        elif action == "d":
            self._delete(keys)

    def _transmitted(self, keys: dict[str, str], payload: str) -> None:
        assert keys.get("f") == "100", "pictures are sent as PNG"
        assert keys.get("q") == "2", "replies would reach the app as keys"
        image = int(keys["i"])
        png = Image.open(io.BytesIO(base64.standard_b64decode(payload)))
        self.images[image] = np.asarray(png.convert("RGBA"))
        for key in [k for k in self.placements if k[0] == image]:
            del self.placements[key]
        if keys.get("a") == "T":
            self._place(keys)

    def _place(self, keys: dict[str, str]) -> None:
        assert keys.get("C") == "1", "a placement must leave the cursor alone"
        image = int(keys["i"])
        assert image in self.images, f"placed image {image} was never sent"
        source = None
        if "w" in keys:
            source = (int(keys["x"]), int(keys["y"]), int(keys["w"]), int(keys["h"]))
        cells = (int(keys["c"]), int(keys["r"])) if "c" in keys else None
        row, column = self.cursor
        self.placements[(image, int(keys.get("p", "0")))] = Placement(
            image,
            row,
            column,
            int(keys.get("X", "0")),
            int(keys.get("Y", "0")),
            int(keys.get("z", "0")),
            source,
            cells,
        )

    def _delete(self, keys: dict[str, str]) -> None:
        what = keys.get("d", "a")
        if what in ("a", "A"):
            self.placements.clear()
            if what == "A":
                self.images.clear()
            return
        image = int(keys["i"])
        for key in [k for k in self.placements if k[0] == image]:
            del self.placements[key]
        if what == "I":
            self.images.pop(image, None)

    # ----- Sixel ---------------------------------------------------------------------
    def _sixel(self, data: str) -> None:
        self.sixel_images += 1
        assert self.sixels is not None
        top = self.cursor[0] * self.cell[1]
        left = self.cursor[1] * self.cell[0]
        registers: dict[int, tuple[int, int, int]] = {}
        colour = (0, 0, 0)
        x = band = 0
        limit = (self.sixels.shape[0], self.sixels.shape[1])
        declared = (limit[0], limit[1])
        for token in re.finditer(r'"([0-9;]*)|#([0-9;]+)|!(\d+)(.)|([?-~])|(\$)|(-)', data):
            raster, colour_spec, count, repeated, single, carriage, newline = token.groups()
            if raster is not None:
                numbers = [int(v) for v in raster.split(";")]
                declared = (numbers[3], numbers[2])
            elif colour_spec is not None:
                numbers = [int(v) for v in colour_spec.split(";")]
                if len(numbers) == 5:
                    registers[numbers[0]] = tuple(round(v * 255 / 100) for v in numbers[2:])  # type: ignore[assignment]
                colour = registers[numbers[0]]
            elif single is not None or repeated is not None:
                times = int(count) if count else 1
                bits = ord(repeated or single) - 63
                for row in range(6):
                    y = band * 6 + row
                    if bits >> row & 1 and y < declared[0]:
                        self.sixels[top + y, left + x : left + x + times] = colour
                x += times
            elif carriage:
                x = 0
            elif newline:
                x, band = 0, band + 1

    # ----- what shows --------------------------------------------------------------
    def screen(self, background: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
        """The terminal's pixels: Sixel pixels, then Kitty placements by z (ties by id)."""
        assert self.sixels is not None
        out = np.where(self.sixels >= 0, self.sixels, np.asarray(background)).astype(np.uint8)
        width, height = self.cell
        for place in sorted(self.placements.values(), key=lambda p: (p.z, p.image)):
            picture = self.images[place.image]
            if place.source is not None:
                x, y, w, h = place.source
                picture = picture[y : y + h, x : x + w]
            if place.cells is not None:
                columns, rows = place.cells
                size = (columns * width, rows * height)
                picture = np.asarray(Image.fromarray(picture).resize(size, Image.NEAREST))
            top = place.row * height + place.y_offset
            left = place.column * width + place.x_offset
            h = min(picture.shape[0], out.shape[0] - top)
            w = min(picture.shape[1], out.shape[1] - left)
            part = picture[:h, :w].astype(np.float64)
            alpha = part[..., 3:] / 255
            region = out[top : top + h, left : left + w]
            region[:] = np.rint(part[..., :3] * alpha + region * (1 - alpha)).astype(np.uint8)
        return out
