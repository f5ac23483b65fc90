"""The project's models to tick, newest first, each with its F1; kept fresh while shown.

Every few seconds the list is read again: a model saved since appears (and takes the
tick when the user had left it on the newest), and the model the trainer holds shows
its F1 as the trainer scores it now, beside the F1 its file records when the two
differ (:func:`cluster.api.describe_model`). The rows are rebuilt only when they change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from cluster.api import TrainerStatus, describe_model
from rptui.session.model_status import saved_f1
from rptui.store.project import Project

log = logging.getLogger(__name__)

REFRESH_S = 2.0

Row = tuple[str, Path]


def model_rows(project: Project, live: TrainerStatus | None) -> list[Row]:
    """(text, path) of every model, newest first; reads each model file's F1 once."""
    rows = []
    for info in reversed(project.models()):
        if live is not None and live.model_version == info.number:
            text = describe_model(info.number, live.best_f1, live.saved_f1)
        else:
            recorded = saved_f1(info.path)
            text = describe_model(info.number, recorded, recorded)
        rows.append((f"{text}  {info.path.name}", info.path))
    return rows


class ModelList(SelectionList[Path]):
    """Ticks choose the models of an ensemble; the newest is ticked at first.

    ``live`` gives the trainer's status as the app knows it (None: no trainer).
    """

    def __init__(
        self,
        project: Project | None,
        *,
        live: Callable[[], TrainerStatus | None] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, compact=True)
        self.project = project
        self.live = live or (lambda: None)
        self._rows: list[Row] = []

    def on_mount(self) -> None:
        """List the models now and every REFRESH_S seconds."""
        if self.project is None:
            return
        self.refresh_models()
        self.set_interval(REFRESH_S, self.refresh_models)

    def refresh_models(self) -> None:
        """Read the models again in the background; the rows change if anything did."""
        if self.project is not None:
            self._read_rows(self.project, self.live())

    @work(thread=True, exclusive=True, group="model-list")
    def _read_rows(self, project: Project, live: TrainerStatus | None) -> None:
        rows = model_rows(project, live)
        if rows == self._rows:
            return
        try:
            self.app.call_from_thread(self._show_rows, rows)
        except RuntimeError as error:  # the app closed while the rows were read
            log.info("model list not shown: %s", error)

    def _show_rows(self, rows: list[Row]) -> None:
        if not self.is_mounted:  # read after the screen closed
            return
        newest = [path for _, path in self._rows[:1]]
        chosen = list(self.selected)
        if not self._rows or chosen == newest:  # left on the newest: the tick follows it
            chosen = [path for _, path in rows[:1]]
        self._rows = rows
        highlighted = self.highlighted
        self.clear_options()
        self.add_options([Selection(text, path, path in chosen) for text, path in rows])
        if highlighted is not None and rows:
            self.highlighted = min(highlighted, len(rows) - 1)
