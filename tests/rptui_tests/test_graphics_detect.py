"""Which graphics path `rptui` finds: a pretend terminal on a pty answers its questions."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from rptui.tui.graphics.detect import parse_replies
from rptui.tui.graphics.support import CellSize

KITTY_OK = "\x1b_Gi=31;OK\x1b\\"
CELL_9X18 = "\x1b[6;18;9t"
ATTRIBUTES_SIXEL = "\x1b[?62;4;22c"
ATTRIBUTES_PLAIN = "\x1b[?1;2c"
READ_S = 20.0


def _doctor_on_a_pty(reply: str | None, *extra: str) -> str:
    """Run ``rptui doctor`` on a pty of 80x24 cells (800x480 px); answer its queries."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 800, 480))
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "PYTEST_CURRENT_TEST")}
    env["TERM"] = "xterm-256color"
    child = subprocess.Popen(
        [sys.executable, "-m", "rptui.cli", *extra, "doctor"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    seen, answered = "", False
    deadline = time.monotonic() + READ_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096).decode(errors="replace")
                except OSError:  # the child has gone and closed the pty
                    break
                if not chunk:
                    break
                seen += chunk
            if not answered and "\x1b[c" in seen and reply is not None:
                os.write(master, reply.encode())
                answered = True
            if child.poll() is not None and not ready:
                break
    finally:
        child.wait(timeout=READ_S)
        os.close(master)
    return seen


def test_replies_are_read_among_other_input() -> None:
    replies = parse_replies("x" + CELL_9X18 + KITTY_OK + "\x1b[A" + ATTRIBUTES_SIXEL)
    assert replies.kitty and replies.sixel and replies.answered
    assert replies.cell == CellSize(9, 18)
    plain = parse_replies(ATTRIBUTES_PLAIN)
    assert not plain.kitty and not plain.sixel and plain.cell is None and plain.answered
    assert not parse_replies("").answered


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (KITTY_OK + CELL_9X18 + ATTRIBUTES_SIXEL, "graphics: kitty, true pixels, 9x18 px cells"),
        (ATTRIBUTES_SIXEL, "graphics: sixel, true pixels, 10x20 px cells (reported)"),
        (ATTRIBUTES_PLAIN, "graphics: half blocks"),
        (None, "graphics: half blocks (two pixels per cell): no reply"),
    ],
)
def test_doctor_names_the_path_the_terminal_offers(reply: str | None, expected: str) -> None:
    output = _doctor_on_a_pty(reply)
    assert expected in output
    assert "\x1b_G" in output and "\x1b[16t" in output  # it asked


def test_graphics_option_forces_a_path_without_asking() -> None:
    output = _doctor_on_a_pty(None, "--graphics", "halfblocks")
    assert "graphics: half blocks (two pixels per cell): --graphics halfblocks" in output
    assert "\x1b_G" not in output
