"""Escape sequences the pictures are written with, and their passage through tmux."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ESC = "\x1b"
STRING_TERMINATOR = ESC + "\\"
SYNC_START = ESC + "[?2026h"  # synchronized output: the terminal shows the update at once
SYNC_END = ESC + "[?2026l"
SAVE_CURSOR = ESC + "7"
RESTORE_CURSOR = ESC + "8"
TMUX_PASSTHROUGH = ESC + "Ptmux;"
PASSTHROUGH_PIECE = 65_536


def move_to(row: int, column: int) -> str:
    """Put the terminal cursor on a cell (0-based row and column)."""
    return f"{ESC}[{row + 1};{column + 1}H"


def passthrough(sequence: str) -> str:
    """``sequence`` wrapped so that tmux hands it to the terminal around it.

    A long sequence (a Sixel image) goes in pieces of at most ``PASSTHROUGH_PIECE``
    characters: tmux drops a passthrough longer than its input buffer, and the terminal
    around it joins the pieces again. No piece ends inside an escape.
    """
    pieces = []
    start = 0
    while start < len(sequence):
        end = min(start + PASSTHROUGH_PIECE, len(sequence))
        while end < len(sequence) and sequence[end - 1] == ESC:
            end += 1
        piece = sequence[start:end]
        pieces.append(TMUX_PASSTHROUGH + piece.replace(ESC, ESC + ESC) + STRING_TERMINATOR)
        start = end
    return "".join(pieces)


@dataclass(frozen=True)
class Drawing:
    """One picture command (a Kitty command or a Sixel image) drawn at a cell (0-based)."""

    row: int
    column: int
    pieces: tuple[str, ...]  # the command's escape sequences, in order


def wrap_drawings(
    drawings: Iterable[Drawing], *, tmux_offset: tuple[int, int] | None = None
) -> str:
    """The drawings as one synchronized update that leaves the text cursor where it was.

    Inside tmux (``tmux_offset`` = the pane's top row and left column in the terminal) each
    piece, the cursor moves included, passes through tmux to the terminal around it.
    """
    body: list[str] = []
    for drawing in drawings:
        if tmux_offset is None:
            body.append(move_to(drawing.row, drawing.column))
            body.extend(drawing.pieces)
            continue
        top, left = tmux_offset
        body.append(passthrough(move_to(drawing.row + top, drawing.column + left)))
        body.extend(passthrough(piece) for piece in drawing.pieces)
    if not body:
        return ""
    if tmux_offset is None:
        return SYNC_START + SAVE_CURSOR + "".join(body) + RESTORE_CURSOR + SYNC_END
    save, restore = passthrough(SAVE_CURSOR), passthrough(RESTORE_CURSOR)
    return SYNC_START + save + "".join(body) + restore + SYNC_END
