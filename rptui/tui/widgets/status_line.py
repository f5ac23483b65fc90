"""The one-line status under the canvas, with a spinner while a segmentation is awaited."""

from __future__ import annotations

from textual.timer import Timer
from textual.widgets import Static

SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_SECONDS = 0.12


class StatusLine(Static):
    """Shows the session's status text; ``waiting`` adds a spinner and "segmenting".

    The line is only redrawn when its text changes, and the spinner's clock only runs
    while waiting, so an idle app writes nothing to the terminal.
    """

    def __init__(self, *, animate: bool = True, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._text = ""
        self._waiting = False
        self._frame = 0
        self._animate = animate
        self._shown: str | None = None
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        """Create the spinner's clock, running only while waiting."""
        if self._animate:
            self._timer = self.set_interval(SPINNER_SECONDS, self._tick, pause=not self._waiting)

    @property
    def waiting(self) -> bool:
        """Whether a spinner is shown."""
        return self._waiting

    def show_status(self, text: str, *, waiting: bool | None = None) -> None:
        """Replace the text (and the spinner state when given)."""
        self._text = text
        if waiting is not None and waiting != self._waiting:
            self._waiting = waiting
            if self._timer is not None:
                if waiting:
                    self._timer.resume()
                else:
                    self._timer.pause()
        self._draw()

    def _tick(self) -> None:
        if self._waiting:
            self._frame = (self._frame + 1) % len(SPINNER_FRAMES)
            self._draw()

    def _draw(self) -> None:
        prefix = f"{SPINNER_FRAMES[self._frame]} segmenting · " if self._waiting else ""
        line = prefix + self._text
        if line == self._shown:
            return
        self._shown = line
        self.update(line, layout=False)
