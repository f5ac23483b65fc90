"""The one-line status under the canvas, with a spinner while a segmentation is awaited.

The line is fitted to the widget's width (:func:`rptui.session.status.fit_status`) each
time its parts or its size change.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.timer import Timer
from textual.widgets import Static

from rptui.session.status import SEPARATOR, StatusPart, fit_status

SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_SECONDS = 0.12


class StatusLine(Static):
    """Shows the session's status text; ``waiting`` adds a spinner and "segmenting".

    The line is only redrawn when its text changes, and the spinner's clock only runs
    while waiting, so an idle app writes nothing to the terminal.
    """

    def __init__(self, *, animate: bool = True, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._parts: list[StatusPart] = []
        self._accent: tuple[str, str] | None = None
        self._waiting = False
        self._frame = 0
        self._spins = animate
        self._shown: str | None = None
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        """Create the spinner's clock, running only while waiting."""
        if self._spins:
            self._timer = self.set_interval(SPINNER_SECONDS, self._tick, pause=not self._waiting)

    @property
    def waiting(self) -> bool:
        """Whether a spinner is shown."""
        return self._waiting

    def show_status(
        self,
        parts: list[StatusPart],
        *,
        waiting: bool | None = None,
        accent: tuple[str, str] | None = None,
    ) -> None:
        """Replace the parts shown (and the spinner state when given).

        ``accent`` (words, style): the last occurrence of the words is drawn in the style
        (the class being painted, in its colour).
        """
        self._parts = list(parts)
        self._accent = accent
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

    def on_resize(self, event: events.Resize) -> None:
        """Fit the line to the new width."""
        self._draw()

    def _draw(self) -> None:
        prefix = f"{SPINNER_FRAMES[self._frame]} segmenting{SEPARATOR}" if self._waiting else ""
        width = self.content_size.width
        if width > 0:
            line = prefix + fit_status(self._parts, max(width - len(prefix), 0))
        else:  # not laid out yet
            line = prefix + SEPARATOR.join(part.text for part in self._parts)
        key = f"{line}\0{self._accent}"
        if key == self._shown:
            return
        self._shown = key
        if self._accent is None:
            self.update(line, layout=False)
            return
        words, style = self._accent
        text = Text(line)
        start = line.rfind(words)
        if start >= 0:
            text.stylize(style, start, start + len(words))
        self.update(text, layout=False)
