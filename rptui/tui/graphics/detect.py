"""Which graphics path the terminal offers, asked before the app takes the terminal over.

Outside tmux the terminal is asked directly: a Kitty graphics query, its cell size in
pixels (``CSI 16 t``) and its device attributes (``CSI c``, answered by every terminal and
so the end of the replies; a ``4`` among them means Sixel). Inside tmux, which answers
for itself, the path follows the terminal tmux runs in, and only when
``allow-passthrough`` lets pictures through. Half blocks remain wherever nothing else is
found, and under tests.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import select
import struct
import sys
import termios
import time
import tty
from collections.abc import Iterator
from dataclasses import dataclass

from rptui.tui.graphics import kitty
from rptui.tui.graphics.support import (
    DEFAULT_CELL,
    HALF_BLOCKS,
    CellSize,
    GraphicsPath,
    GraphicsSupport,
)
from rptui.tui.graphics.tmux import (
    PASSTHROUGH_ADVICE,
    TmuxPane,
    in_tmux,
    outer_terminal,
    passthrough_allowed,
    tmux_query,
)

log = logging.getLogger(__name__)

REPLY_TIMEOUT_S = 1.0  # the whole exchange, for slow SSH links
QUERY_IMAGE_ID = 31
CELL_SIZE_QUERY = "\x1b[16t"
DEVICE_ATTRIBUTES_QUERY = "\x1b[c"
SIXEL_ATTRIBUTE = "4"
TMUX_UNKNOWN_CELL = CellSize(16, 32)  # what tmux tells a pane when the terminal did not say
KITTY_TERMINALS = ("kitty", "ghostty")  # tmux names for terminals that show Kitty graphics
SIXEL_TERMINALS = ("foot", "wezterm", "mlterm", "contour", "konsole")
_KITTY_REPLY = re.compile(rf"\x1b_Gi={QUERY_IMAGE_ID};OK\x1b\\")
_CELL_REPLY = re.compile(r"\x1b\[6;(\d+);(\d+)t")
_ATTRIBUTES_REPLY = re.compile(r"\x1b\[\?([0-9;]*)c")


@dataclass(frozen=True)
class Replies:
    """What a terminal answered to the queries."""

    kitty: bool = False
    sixel: bool = False
    cell: CellSize | None = None
    answered: bool = False  # the device attributes came back


def parse_replies(text: str) -> Replies:
    """Read the terminal's answers to :data:`QUERIES` (in any order, among other input)."""
    cell_match = _CELL_REPLY.search(text)
    cell = None
    if cell_match is not None:
        height, width = int(cell_match[1]), int(cell_match[2])
        cell = CellSize(width, height) if width > 0 and height > 0 else None
    attributes = _ATTRIBUTES_REPLY.search(text)
    return Replies(
        kitty=_KITTY_REPLY.search(text) is not None,
        sixel=attributes is not None and SIXEL_ATTRIBUTE in attributes[1].split(";"),
        cell=cell,
        answered=attributes is not None,
    )


QUERIES = kitty.support_query(QUERY_IMAGE_ID) + CELL_SIZE_QUERY + DEVICE_ATTRIBUTES_QUERY


def detect(forced: GraphicsPath | None = None) -> GraphicsSupport:
    """The graphics path for this terminal; ``forced`` (``--graphics``) chooses it instead.

    A forced path is taken as it is; the terminal is still asked for its cell size.
    """
    if forced == HALF_BLOCKS:
        return GraphicsSupport(reason="--graphics halfblocks")
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    if forced is None:
        if "PYTEST_CURRENT_TEST" in os.environ:
            return GraphicsSupport(reason="under tests")
        if not terminal:
            return GraphicsSupport(reason="not a terminal")
        if os.environ.get("TERM", "") in ("dumb", "linux"):
            return GraphicsSupport(reason=f"TERM={os.environ['TERM']}")
    if in_tmux():
        return _in_tmux(forced)
    replies = ask_terminal(QUERIES) if terminal else Replies()
    cell = replies.cell or window_cell_size()
    if forced is not None:
        return _found(forced, cell, f"--graphics {forced}")
    if replies.kitty:
        return _found("kitty", cell, "the terminal answered a Kitty graphics query")
    if replies.sixel:
        return _found("sixel", cell, "the terminal reports Sixel graphics")
    reason = "no Kitty or Sixel graphics reported" if replies.answered else "no reply"
    return GraphicsSupport(reason=reason)


def _found(
    path: GraphicsPath, cell: CellSize | None, reason: str, tmux: TmuxPane | None = None
) -> GraphicsSupport:
    if cell is None:
        reason += f"; cell size not reported, {DEFAULT_CELL.width}x{DEFAULT_CELL.height} assumed"
    return GraphicsSupport(path, cell or DEFAULT_CELL, cell is not None, tmux, reason)


def _in_tmux(forced: GraphicsPath | None) -> GraphicsSupport:
    """Inside tmux: the terminal around it decides, if tmux lets pictures through."""
    allowed = passthrough_allowed()
    if forced is None and not allowed:
        return GraphicsSupport(reason=PASSTHROUGH_ADVICE)
    pane = TmuxPane()
    pane.refresh()
    cell = tmux_cell_size()
    if forced is not None:
        note = "" if allowed else f" ({PASSTHROUGH_ADVICE})"
        return _found(forced, cell, f"--graphics {forced}{note}", pane)
    outer = outer_terminal().lower()
    if any(name in outer for name in KITTY_TERMINALS):
        return _found("kitty", cell, f"tmux runs in {outer}", pane)
    if any(name in outer for name in SIXEL_TERMINALS):
        return _found("sixel", cell, f"tmux runs in {outer}", pane)
    where = outer or "an unknown terminal"
    return GraphicsSupport(reason=f"tmux runs in {where}; --graphics kitty|sixel forces a path")


def tmux_cell_size() -> CellSize | None:
    """The cell size tmux learnt from the terminal around it, when it learnt one."""
    answer = (
        tmux_query("display-message", "-p", "#{client_cell_width} #{client_cell_height}") or ""
    ).split()
    if len(answer) == 2 and all(word.isdigit() and int(word) > 0 for word in answer):
        return CellSize(int(answer[0]), int(answer[1]))
    cell = window_cell_size()
    return None if cell == TMUX_UNKNOWN_CELL else cell


def window_cell_size() -> CellSize | None:
    """The cell size from the window's size in pixels (``TIOCGWINSZ``), when the tty knows it."""
    try:
        packed = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, columns, width, height = struct.unpack("HHHH", packed)
    if not (rows and columns and width and height):
        return None
    return CellSize(width // columns, height // rows)


def ask_terminal(queries: str, timeout: float = REPLY_TIMEOUT_S) -> Replies:
    """Write the queries to the terminal and read its replies until the device attributes."""
    try:
        with _raw(sys.stdin.fileno()) as fd:
            os.write(sys.stdout.fileno(), queries.encode())
            text = _read_until(fd, _ATTRIBUTES_REPLY, timeout)
    except (OSError, termios.error) as error:
        log.debug("terminal query: %s", error)
        return Replies()
    return parse_replies(text)


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[int]:
    """The terminal without echo or line buffering, restored afterwards."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)


def _read_until(fd: int, end: re.Pattern[str], timeout: float) -> str:
    data = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        data += os.read(fd, 4096)
        if end.search(data.decode(errors="replace")):
            break
    return data.decode(errors="replace")
