"""The one-line status under the canvas, with a spinner while a segmentation is awaited."""

from __future__ import annotations

from textual.widgets import Static

SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_SECONDS = 0.12


class StatusLine(Static):
    """Shows the session's status text; ``waiting`` adds a spinner and "segmenting"."""

    def __init__(self, *, animate: bool = True, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._text = ""
        self._waiting = False
        self._frame = 0
        self._animate = animate

    def on_mount(self) -> None:
        """Start the spinner's clock."""
        if self._animate:
            self.set_interval(SPINNER_SECONDS, self._tick)

    @property
    def waiting(self) -> bool:
        """Whether a spinner is shown."""
        return self._waiting

    def show_status(self, text: str, *, waiting: bool | None = None) -> None:
        """Replace the text (and the spinner state when given)."""
        self._text = text
        if waiting is not None:
            self._waiting = waiting
        self._draw()

    def _tick(self) -> None:
        if self._waiting:
            self._frame = (self._frame + 1) % len(SPINNER_FRAMES)
            self._draw()

    def _draw(self) -> None:
        prefix = f"{SPINNER_FRAMES[self._frame]} segmenting · " if self._waiting else ""
        self.update(prefix + self._text)
