"""Progress bars for long command-line work (on stderr, so stdout stays clean data)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

SHOW_AFTER_S = 1.0  # an empty bar appears after this long without a count


class Bar:
    """``bar(done, total)`` draws the bar; ``bar.say(text)`` tells why it waits.

    The bar shows from its first call or after :data:`SHOW_AFTER_S` seconds, and an
    error ends it unseen: a mistake found before any work never flashes an empty bar.
    """

    def __init__(self, progress: Progress, task: TaskID, description: str) -> None:
        self._progress = progress
        self._task = task
        self._description = description

    def __call__(self, done: int, total: int) -> None:
        self._progress.update(
            self._task, completed=done, total=total, visible=True, description=self._description
        )

    def show(self, visible: bool = True) -> None:
        """Show the bar (or hide it) before any count is known."""
        self._progress.update(self._task, visible=visible)

    def say(self, text: str) -> None:
        """Show ``text`` on the bar's line until the next update (a line of its own when
        stderr is no terminal)."""
        if self._progress.console.is_terminal:
            description = f"{self._description}: {text}"
            self._progress.update(self._task, description=description, visible=True)
        else:
            self._progress.console.print(f"{self._description}: {text}", highlight=False)


@contextmanager
def progress_bar(description: str) -> Iterator[Bar]:
    """Yield a :class:`Bar` on stderr; silent when stderr is no terminal (but for ``say``)."""
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = Bar(progress, progress.add_task(description, total=None, visible=False), description)
        timer = threading.Timer(SHOW_AFTER_S, bar.show)
        timer.daemon = True
        timer.start()
        try:
            yield bar
        except BaseException:
            timer.cancel()
            bar.show(False)
            raise
        finally:
            timer.cancel()
