"""The training panel: trainer state, epoch, best F1 and their history as sparklines.

Under the state, the model that drew the mask on screen: a mask made by an older model
than the newest (read from disk, or awaiting a re-segmentation) says so.

A poll that brings the same status (and annotation count) as the last one changes
nothing on screen, so an idle app writes nothing to the terminal: the plots get a
point per change, not per poll.

Below them, this session's accepted images: the corrective F1 of each (the shown
segmentation judged by the user's corrections) and the seconds spent on it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Sparkline, Static

from cluster.api import TrainerState, TrainerStatus, describe_model
from rptui.session.corrective import CorrectionRecord

HISTORY_LENGTH = 200
START_HINT = "T starts"
ERROR_CHARS = 44  # two lines of the panel
LINE_CHARS = 23  # one line of the panel
NO_MASK = "mask: none"


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mask_model_text(version: int | None, newest: int) -> str:
    """``mask: model #7``, with ``(older)`` when model ``newest`` is newer (``mask: #123
    (older)`` when that is too long for a line); ``mask: none`` when no mask is shown
    (``version`` None)."""
    if version is None:
        return NO_MASK
    older = " (older)" if newest > version else ""
    text = f"mask: model #{version}{older}"
    return text if len(text) <= LINE_CHARS else f"mask: #{version}{older}"


class TrainingPanel(Vertical):
    """Live training state with plots of validation F1 and annotation count over time."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.f1_history: list[float] = []
        self.annotated_history: list[float] = []
        self.last_status: TrainerStatus | None = None
        self.image_f1_history: list[float] = []
        self.seconds_history: list[float] = []
        self._recorded: tuple[TrainerStatus, int] | None = None

    def compose(self) -> ComposeResult:
        """State text, then the plots with their captions."""
        yield Static(f"training: stopped\n{START_HINT}", id="training-state", markup=False)
        yield Static(NO_MASK, id="mask-model", markup=False)
        yield Label("validation F1", classes="plot-caption")
        yield Sparkline([], id="f1-plot")
        yield Label("annotations", classes="plot-caption")
        yield Sparkline([], id="annotated-plot")
        yield Label("corrected F1 / image", id="image-f1-caption", classes="plot-caption")
        yield Sparkline([], id="image-f1-plot")
        yield Label("seconds / image", id="seconds-caption", classes="plot-caption")
        yield Sparkline([], id="seconds-plot")

    def show_offline(self, reason: str) -> None:
        """Say that no trainer can be reached."""
        self._recorded = None
        self._set_state(f"offline\n{shorten(reason, ERROR_CHARS)}")

    def _set_state(self, text: str) -> None:
        """Replace the state text when it differs from what is shown."""
        state = self.query_one("#training-state", Static)
        if str(state.content) != text:
            state.update(text)

    def show_mask_model(self, version: int | None, newest: int) -> None:
        """Name the model that drew the mask on screen (None: no mask shown); ``newest``
        is the newest model the app knows of."""
        line = self.query_one("#mask-model", Static)
        text = mask_model_text(version, newest)
        if str(line.content) != text:
            line.update(text)

    def record(self, status: TrainerStatus, n_annotated: int) -> None:
        """Show a status and add a point to both plots, unless nothing changed since the last."""
        self.last_status = status
        if self._recorded == (status, n_annotated):
            return
        self._recorded = (status, n_annotated)
        self.f1_history.append(status.best_f1 or 0.0)
        self.annotated_history.append(float(n_annotated))
        del self.f1_history[:-HISTORY_LENGTH], self.annotated_history[:-HISTORY_LENGTH]
        lines = [
            f"training: {status.state.value}",
            f"epoch {status.epoch}, {status.epochs_since_best} since best",
            describe_model(status.model_version, status.best_f1, status.saved_f1),
            f"train {status.n_train} · val {status.n_val}",
        ]
        if status.state is TrainerState.STOPPED:
            lines.append(START_HINT)
        if status.last_error:
            lines.append(shorten(status.last_error, ERROR_CHARS))
        self._set_state("\n".join(lines))
        self.query_one("#f1-plot", Sparkline).data = list(self.f1_history)
        self.query_one("#annotated-plot", Sparkline).data = list(self.annotated_history)

    def record_correction(self, record: CorrectionRecord) -> None:
        """Add an accepted image: its corrective F1 (when a segmentation was shown) and time."""
        self.seconds_history.append(record.seconds)
        del self.seconds_history[:-HISTORY_LENGTH]
        self.query_one("#seconds-plot", Sparkline).data = list(self.seconds_history)
        self.query_one("#seconds-caption", Label).update(f"seconds / image {record.seconds:.0f}")
        if record.f1 is None:
            return
        self.image_f1_history.append(record.f1)
        del self.image_f1_history[:-HISTORY_LENGTH]
        self.query_one("#image-f1-plot", Sparkline).data = list(self.image_f1_history)
        caption = f"corrected F1 {record.f1:.2f} #{record.model_version}"
        self.query_one("#image-f1-caption", Label).update(caption)
