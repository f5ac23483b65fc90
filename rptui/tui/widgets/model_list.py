"""The project's models to tick, newest first, each with its F1; kept fresh while shown.

Every few seconds the list is read again: a model saved since appears (and takes the
tick when the user had left it on the newest), and the model the trainer holds shows
its F1 as the trainer scores it now, beside the F1 its file records when the two
differ (:func:`cluster.api.describe_model`). The rows are rebuilt only when they change.

Each F1 comes with the number of validation annotations it was measured on: the
validation set grows as the user annotates, so F1s of models saved at different times
are not measured alike. The pinned model (``rptui models --pin``) is marked and ticked
at first, instead of the newest; ``best`` marks the highest F1 the files record, as
``rptui models`` does, once more than one model has one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from cluster.api import TrainerStatus, describe_model
from rptui.store.model_registry import best_number, recorded_score
from rptui.store.project import Project

log = logging.getLogger(__name__)

REFRESH_S = 2.0
PART_SEPARATOR = " · "

Row = tuple[str, Path]


def model_rows(project: Project, live: TrainerStatus | None) -> list[Row]:
    """(text, path) of every model, newest first: ``model #5 F1 0.855 · 3 val · pinned ·
    best  000005_<unix>.pt``; reads each model file's record once."""
    infos = list(reversed(project.models()))
    scores = {info.path: recorded_score(info.path) for info in infos}
    f1s = {info.number: scores[info.path].f1 for info in infos}
    best = best_number(f1s) if sum(f1 is not None for f1 in f1s.values()) > 1 else None
    pinned = project.config.pinned_model
    rows = []
    for info in infos:
        score = scores[info.path]
        if live is not None and live.model_version == info.number:
            parts = [describe_model(info.number, live.best_f1, live.saved_f1)]
            rescored = live.best_f1 != score.f1 and live.n_val > 0  # on today's set
            n_val = live.n_val if rescored else score.n_val
            shown_f1 = live.best_f1
        else:
            parts = [describe_model(info.number, score.f1, score.f1)]
            n_val, shown_f1 = score.n_val, score.f1
        if n_val is not None and shown_f1 is not None:
            parts.append(f"{n_val} val")
        parts += [
            mark
            for mark, on in (("pinned", info.number == pinned), ("best", info.number == best))
            if on
        ]
        rows.append((f"{PART_SEPARATOR.join(parts)}  {info.path.name}", info.path))
    return rows


def first_choice(project: Project) -> Path | None:
    """The model ticked at first: the pinned one (while its file is there), else the newest."""
    chosen = project.pinned_model() or project.newest_model()
    return chosen.path if chosen is not None else None


class ModelList(SelectionList[Path]):
    """Ticks choose the models of an ensemble; the pinned model, else the newest, is
    ticked at first.

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
        self._first: Path | None = None  # the model ticked at first (pinned, else newest)

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
        rows, first = model_rows(project, live), first_choice(project)
        if (rows, first) == (self._rows, self._first):
            return
        try:
            self.app.call_from_thread(self._show_rows, rows, first)
        except RuntimeError as error:  # the app closed while the rows were read
            log.info("model list not shown: %s", error)

    def _show_rows(self, rows: list[Row], first: Path | None) -> None:
        if not self.is_mounted:  # read after the screen closed
            return
        chosen = list(self.selected)
        if not self._rows or chosen == [self._first]:  # left on the first: the tick follows it
            chosen = [first] if first is not None else []
        self._rows, self._first = rows, first
        highlighted = self.highlighted
        self.clear_options()
        self.add_options([Selection(text, path, path in chosen) for text, path in rows])
        if highlighted is not None and rows:
            self.highlighted = min(highlighted, len(rows) - 1)
