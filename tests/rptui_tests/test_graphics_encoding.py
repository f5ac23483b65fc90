"""Kitty and Sixel encodings, decoded again by a pretend terminal, pixel for pixel."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rptui.tui.graphics import kitty, sixel
from rptui.tui.graphics.escapes import PASSTHROUGH_PIECE, Drawing, passthrough, wrap_drawings
from tests.rptui_tests.terminal_pictures import PretendTerminal

CELL = (10, 12)


@pytest.mark.parametrize("seed", range(12))
def test_sixel_pixels_come_back_with_transparent_gaps_kept(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(1, 40)), int(rng.integers(1, 60))
    colours = rng.integers(0, 256, (int(rng.integers(1, 200)), 3)).astype(np.uint8)
    pixels = colours[rng.integers(0, len(colours), (height, width))]
    pixels[: height // 2, : width // 3] = colours[0]  # runs to shorten
    drawn = rng.random((height, width)) > 0.3
    palette, indices = sixel.palette_indices(pixels, drawn)
    terminal = PretendTerminal(10, 10, CELL)
    terminal.feed(wrap_drawings([Drawing(1, 2, (sixel.encode(indices, palette),))]))
    assert terminal.sixels is not None
    top, left = CELL[1], 2 * CELL[0]
    got = terminal.sixels[top : top + height, left : left + width]
    assert np.array_equal(got[drawn], sixel.shown_colours(pixels[drawn]))
    assert (got[~drawn] == -1).all()  # left as it was
    terminal.sixels[top : top + height, left : left + width] = -1
    assert (terminal.sixels == -1).all()  # nothing drawn elsewhere


@pytest.mark.parametrize("seed", range(8))
def test_a_grey_sixel_painted_over_shows_every_pixel_and_costs_less(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(7, 60)), int(rng.integers(20, 90))  # a part band below
    levels = np.clip(rng.normal(120, 30, (height, width)), 0, 255).astype(np.uint8) // 8 * 8
    pixels = np.repeat(levels[..., None], 3, axis=-1)
    drawn = rng.random((height, width)) > 0.05  # a few pixels left as they are
    palette, indices = sixel.palette_indices(pixels, drawn)
    image = sixel.encode(indices, palette)
    terminal = PretendTerminal(10, 6, CELL)
    terminal.feed(image)
    assert terminal.sixels is not None
    got = terminal.sixels[:height, :width]
    assert np.array_equal(got[drawn], sixel.shown_colours(pixels[drawn]))
    assert (got[~drawn] == -1).all()
    assert (terminal.sixels[height:] == -1).all() and (terminal.sixels[:, width:] == -1).all()
    assert len(image) < len(sixel.encode(indices, palette, overpaint=False))


def test_sixel_of_many_colours_keeps_them_close() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
    palette, indices = sixel.palette_indices(pixels, np.ones((30, 40), bool))
    assert len(palette) <= sixel.MAX_COLOURS and indices.min() >= 0
    terminal = PretendTerminal(10, 10, CELL)
    terminal.feed(sixel.encode(indices, palette))
    assert terminal.sixels is not None
    error = np.abs(terminal.sixels[:30, :40].astype(int) - pixels.astype(int))
    assert error.mean() < 20


def test_kitty_pictures_larger_than_a_chunk_arrive_whole_through_tmux() -> None:
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    keys = kitty.placement_keys(1, z=-1, x_offset=3, y_offset=5)
    pieces = kitty.transmit_and_place(77, kitty.png_bytes(pixels), keys)
    assert len(pieces) > 1 and all(len(piece) < kitty.CHUNK + 100 for piece in pieces)
    terminal = PretendTerminal(12, 12, CELL)
    terminal.feed(wrap_drawings([Drawing(2, 1, pieces)], tmux_offset=(1, 2)))
    shown = terminal.screen()
    top, left = 3 * CELL[1] + 5, 3 * CELL[0] + 3
    assert np.array_equal(shown[top : top + 40, left : left + 50], pixels)
    terminal.feed(passthrough(kitty.delete_image(77)))
    assert terminal.images == {} and terminal.placements == {}


def test_a_long_sixel_passes_through_tmux_in_pieces() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (120, 300, 3)).astype(np.uint8)
    palette, indices = sixel.palette_indices(pixels, np.ones((120, 300), bool))
    image = sixel.encode(indices, palette)
    assert len(image) > PASSTHROUGH_PIECE
    wrapped = wrap_drawings([Drawing(0, 0, (image,))], tmux_offset=(2, 3))
    assert wrapped.count("\x1bPtmux;") > 3  # cursor moves and the image's pieces
    terminal = PretendTerminal(40, 20, CELL)
    terminal.feed(wrapped)
    assert terminal.sixels is not None
    top, left = 2 * CELL[1], 3 * CELL[0]
    expected = sixel.shown_colours(palette[indices])
    assert np.array_equal(terminal.sixels[top : top + 120, left : left + 300], expected)


def _pixels(kind: str) -> np.ndarray:
    rng = np.random.default_rng(4)
    photo = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
    if kind == "photo":
        return photo
    if kind == "magnified":  # a zoomed-in view: every pixel three times each way
        return photo.repeat(3, axis=0).repeat(3, axis=1)
    colours = rng.integers(0, 256, (5, 4)).astype(np.uint8)
    colours[0, 3] = 0  # transparent
    pixels = colours[rng.integers(0, len(colours), (30, 40))]
    return pixels if kind == "translucent" else pixels[..., :3]


@pytest.mark.parametrize("kind", ["photo", "magnified", "few colours", "translucent"])
def test_kitty_pngs_come_back_pixel_for_pixel(kind: str) -> None:
    pixels = _pixels(kind)
    keys = kitty.placement_keys(1, z=-1)
    terminal = PretendTerminal(20, 20, CELL)
    terminal.feed(
        wrap_drawings([Drawing(0, 0, kitty.transmit_and_place(5, kitty.png_bytes(pixels), keys))])
    )
    (decoded,) = terminal.images.values()
    if pixels.shape[2] == 3:
        assert (decoded[..., 3] == 255).all()
    assert np.array_equal(decoded[..., : pixels.shape[2]], pixels)


@pytest.mark.parametrize("kind", ["few colours", "translucent"])
def test_kitty_sends_few_colours_as_a_palette(kind: str) -> None:
    pixels = _pixels(kind)
    plain = io.BytesIO()
    Image.fromarray(pixels).save(plain, "PNG", compress_level=kitty.PNG_LEVEL)
    assert len(kitty.png_bytes(pixels)) < len(plain.getvalue()) / 2
