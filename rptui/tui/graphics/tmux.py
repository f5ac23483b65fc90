"""The tmux pane the app runs in: whether graphics pass through, and where the pane sits."""

from __future__ import annotations

import logging
import os
import subprocess
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

TMUX_TIMEOUT_S = 2.0
PASSTHROUGH_OPTION = "allow-passthrough"
PASSTHROUGH_ADVICE = "in tmux, graphics need `set -g allow-passthrough on` in ~/.tmux.conf"


def in_tmux() -> bool:
    """The app runs inside tmux."""
    return bool(os.environ.get("TMUX"))


def tmux_query(*words: str) -> str | None:
    """The output of a tmux command about this pane, or None when tmux does not answer."""
    pane = os.environ.get("TMUX_PANE")
    target = ["-t", pane] if pane else []
    try:
        done = subprocess.run(
            ["tmux", words[0], *target, *words[1:]],
            capture_output=True,
            text=True,
            timeout=TMUX_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        log.debug("tmux %s: %s", words[0], error)
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def passthrough_allowed() -> bool:
    """tmux hands escape sequences it does not know to the terminal (``allow-passthrough``)."""
    value = tmux_query("show-options", "-pAqv", PASSTHROUGH_OPTION)  # inherited values too
    return value in ("on", "all")


def outer_terminal() -> str:
    """The terminal tmux runs in, as tmux names it (``xterm-kitty``, ``foot``...), or ''."""
    return tmux_query("display-message", "-p", "#{client_termname}") or ""


@dataclass
class TmuxPane:
    """Where the pane sits in the terminal around tmux (pictures are placed there).

    Attributes:
        top: the pane's first row in the terminal (0-based), the status line included.
        left: the pane's first column.
    """

    top: int = 0
    left: int = 0
    _known: bool = field(default=False, repr=False)

    def refresh(self) -> None:
        """Ask tmux where the pane is now (after a resize or a split)."""
        answer = tmux_query(
            "display-message", "-p", "#{pane_top} #{pane_left} #{status} #{status-position}"
        )
        if answer is None:
            return
        words = answer.split()
        try:
            top, left = int(words[0]), int(words[1])
        except (IndexError, ValueError):
            return
        status_on_top = len(words) >= 4 and words[2] not in ("off", "0") and words[3] == "top"
        self.top, self.left = top + int(status_on_top), left
        self._known = True

    def offset(self) -> tuple[int, int]:
        """(top, left) of the pane in the terminal."""
        if not self._known:
            self.refresh()
        return self.top, self.left
