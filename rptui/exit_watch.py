"""When Ray's native core ends this process on the spot, say why on the terminal.

Ray's C++ core can end a driver process at once (``abort``, ``_exit``) when something
fatal happens, such as its head going away. Nothing in the process runs after that, and
what the core printed went to the driver log (file descriptor 2 is diverted there while
Ray is in use). :func:`watch_sudden_exit` starts a small watcher process that holds the
reading end of a pipe: a process that ends normally writes :data:`NORMAL_EXIT` into it
first; when the pipe closes without it, the watcher prints the last meaningful lines the
log gained, and the log's path, to the terminal (or, when the log gained nothing, that
the process was killed from outside).

Run as ``python -m rptui.exit_watch LOG OFFSET`` (the watcher); it imports only the
standard library, so it starts in milliseconds.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from pathlib import Path
from typing import TextIO

NORMAL_EXIT = b"exit ok"
LINES_SHOWN = 6
STACK_MARKER = "*** "  # Ray's fatal handler: "*** SIGABRT received", "*** StackTrace ..."
PROGRAM = "rptui"
_started: list[int] = []  # the pipe's writing end, once a watcher runs for this process


def watch_sudden_exit(log_path: Path, terminal: TextIO | None) -> None:
    """Start the watcher for this process (once) on ``log_path``, printing to ``terminal``."""
    if _started or terminal is None:
        return
    try:
        terminal.fileno()
    except (AttributeError, OSError, ValueError):  # no terminal file to print on
        return
    offset = log_path.stat().st_size if log_path.exists() else 0
    read_end, write_end = os.pipe()  # not inherited by programs this process starts
    subprocess.Popen(
        [sys.executable, "-m", __name__, str(log_path), str(offset)],
        stdin=read_end,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        start_new_session=True,  # Ctrl+C in the terminal is for this process, not the watcher
    )
    os.close(read_end)
    _started.append(write_end)
    atexit.register(_say_normal_exit)


def _say_normal_exit() -> None:
    for write_end in _started:
        os.write(write_end, NORMAL_EXIT)
        os.close(write_end)
    _started.clear()


def last_words(text: str, lines: int = LINES_SHOWN) -> list[str]:
    """The last ``lines`` non-blank lines of ``text`` before any stack dump."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.startswith(STACK_MARKER) and kept:
            break
        if line.strip() and not line.startswith(STACK_MARKER):
            kept.append(line.rstrip())
    return kept[-lines:]


def main(argv: list[str]) -> int:
    """The watcher: wait for the pipe to close; if the process did not end normally, print
    what the log gained since ``offset``."""
    log_path, offset = Path(argv[1]), int(argv[2])
    said = sys.stdin.buffer.read()
    if said == NORMAL_EXIT:
        return 0
    try:
        with open(log_path, "rb") as log:
            log.seek(offset)
            gained = log.read().decode("utf-8", errors="replace")
    except OSError:
        gained = ""
    lines = last_words(gained)
    if not lines:  # nothing from Ray: killed from outside (a signal, out of memory)
        print(
            f"{PROGRAM}: error: the command ended abruptly, killed from outside (a signal, or"
            f" out of memory?); nothing in {log_path} says why",
            file=sys.stderr,
        )
        return 0
    print(
        f"{PROGRAM}: error: the command ended abruptly inside Ray; see {log_path}", file=sys.stderr
    )
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
