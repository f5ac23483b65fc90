"""Commands of the Kitty graphics protocol: transmit PNGs, place, delete.

Every command asks for no reply (``q=2``): a reply would reach the app as typed keys.
Images are sent as PNG in base64 chunks of at most 4096 bytes; a placement is made at the
text cursor and leaves the cursor where it was (``C=1``).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

from rptui.tui.graphics.escapes import ESC, STRING_TERMINATOR

CHUNK = 4096
PNG_LEVEL = 6  # zlib level: pictures go over slow links, bytes matter more than ms
HUFFMAN_ONLY = 2  # zlib strategy: Huffman codes alone, no search for repeated strings
PALETTE_COLOURS = 256  # at most this many colours: a PNG of palette indices
REPEATS = 0.25  # rows (or columns) equal to their neighbour, share: repeated strings pay
QUIET = "q=2"


def command(keys: str, payload: str = "") -> str:
    """One graphics command (APC ``_G``)."""
    return f"{ESC}_G{keys}{';' + payload if payload else ''}{STRING_TERMINATOR}"


def png_bytes(pixels: np.ndarray) -> bytes:
    """RGB or RGBA pixels (H, W, 3|4) uint8 as a PNG, exact, coded to be small and quick.

    Few colours (masks, the cursor, a grey photo) go as palette indices; a photo shown a
    pixel per pixel with Huffman codes alone: its filtered rows hardly repeat, and zlib's
    search for repeats costs time and bytes there (5-12% fewer bytes, 5-10x faster on root
    photos). A magnified view, whose rows and columns repeat, keeps the search.
    """
    pixels = np.ascontiguousarray(pixels)
    image = Image.fromarray(pixels)
    options: dict[str, Any] = {"compress_level": PNG_LEVEL}
    counted = image.getcolors(PALETTE_COLOURS)
    if counted is not None:
        image, transparency = _indexed(pixels, [colour for _, colour in counted])
        if transparency is not None:
            options["transparency"] = transparency
    elif pixels.shape[2] == 3 and not _repeating(pixels):
        options["compress_type"] = HUFFMAN_ONLY
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def _indexed(pixels: np.ndarray, colours: list[Any]) -> tuple[Image.Image, bytes | None]:
    """The pixels as a palette image of exactly ``colours`` (and their alphas, for RGBA)."""
    palette = np.asarray(sorted(colours), np.uint8).reshape(len(colours), pixels.shape[2])
    keys = _packed(palette)
    indices = np.searchsorted(keys, _packed(pixels)).astype(np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette[:, :3].tobytes())
    if pixels.shape[2] == 4:
        return image, palette[:, 3].tobytes()
    return image, None


def _packed(colours: np.ndarray) -> np.ndarray:
    """(..., 3|4) uint8 colours as integers that sort as the colour tuples do."""
    wide = colours.astype(np.int64)
    packed = np.zeros(colours.shape[:-1], np.int64)
    for channel in range(colours.shape[-1]):
        packed = (packed << 8) | wide[..., channel]
    return packed


def _repeating(pixels: np.ndarray) -> bool:
    """Many rows equal the row above, or many columns the column left (a magnified view)."""
    if min(pixels.shape[:2]) < 2:
        return False
    rows = (pixels[1:] == pixels[:-1]).all(axis=(1, 2)).mean()
    columns = (pixels[:, 1:] == pixels[:, :-1]).all(axis=(0, 2)).mean()
    return bool(max(rows, columns) >= REPEATS)


def placement_keys(
    placement: int,
    *,
    z: int,
    x_offset: int = 0,
    y_offset: int = 0,
    source: tuple[int, int, int, int] | None = None,
    cells: tuple[int, int] | None = None,
) -> str:
    """Keys placing an image: its placement id, stacking, pixel offset in the first cell.

    Args:
        placement: the placement id (a new placement with the same id replaces the old).
        z: stacking order; below zero the image lies under the text.
        x_offset: pixels right of the cell's left edge (less than a cell).
        y_offset: pixels below the cell's top edge.
        source: (x, y, width, height) of the part of the image shown, or the whole.
        cells: (columns, rows) the image is scaled to fill, or its own pixel size.
    """
    keys = [f"p={placement}", f"z={z}", "C=1", QUIET]
    if x_offset or y_offset:
        keys += [f"X={x_offset}", f"Y={y_offset}"]
    if source is not None:
        x, y, w, h = source
        keys += [f"x={x}", f"y={y}", f"w={w}", f"h={h}"]
    if cells is not None:
        keys += [f"c={cells[0]}", f"r={cells[1]}"]
    return ",".join(keys)


def transmit_and_place(image: int, png: bytes, placement: str) -> tuple[str, ...]:
    """Send a PNG as image ``image`` and place it (``placement``: see :func:`placement_keys`)."""
    data = base64.standard_b64encode(png).decode("ascii")
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [""]
    first = f"a=T,f=100,t=d,i={image},{placement},m={int(len(chunks) > 1)}"
    pieces = [command(first, chunks[0])]
    for index, chunk in enumerate(chunks[1:], start=2):
        pieces.append(command(f"m={int(index < len(chunks))},{QUIET}", chunk))
    return tuple(pieces)


def place(image: int, placement: str) -> str:
    """Place an image the terminal holds already."""
    return command(f"a=p,i={image},{placement}")


def delete_image(image: int) -> str:
    """Delete an image's placements and free its data."""
    return command(f"a=d,d=I,i={image},{QUIET}")


def delete_placements(image: int) -> str:
    """Delete an image's placements; the terminal keeps its data for a later :func:`place`."""
    return command(f"a=d,d=i,i={image},{QUIET}")


def support_query(image: int) -> str:
    """A one-pixel query the terminal answers with ``_Gi=<image>;OK`` when it knows Kitty."""
    return command(f"i={image},s=1,v=1,a=q,t=d,f=24", "AAAA")
