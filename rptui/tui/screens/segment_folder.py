"""The segment-folder screen: a folder of images through the project's models, with tables."""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Input,
    Label,
    ProgressBar,
    Select,
    SelectionList,
    Static,
)

from cluster.api import TrainerStatus
from cluster.io.mask_formats import FORMATS
from rptui.folders.measuring import ALL_KINDS, IMAGE_KINDS, REGIONS
from rptui.folders.run import FolderReport, segment_folder
from rptui.folders.table_view import RESULTS_FOLDER
from rptui.store.project import Project
from rptui.tui.screens.folder_child import run_child
from rptui.tui.screens.folder_job import (
    FolderExists,
    FolderJob,
    OutputFolder,
    outcome_text,
    write_tables,
)
from rptui.tui.screens.measurements import MeasurementsScreen
from rptui.tui.widgets.model_list import ModelList

log = logging.getLogger(__name__)


class SegmentFolderScreen(Screen[None]):
    """Choose a folder, models, format and measurements; Ctrl+S starts, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "start", "Start", id="segment.start"),
        Binding("ctrl+t", "open_table", "Show table", id="segment.open_table"),
        Binding("escape", "cancel_or_close", "Cancel/Back", id="segment.cancel"),
    ]

    def __init__(
        self,
        project: Project | None,
        *,
        workspace_root: Path,
        command: Sequence[str] | None = None,
        tta: bool = True,
        live: Callable[[], TrainerStatus | None] | None = None,
    ) -> None:
        """``command``: the ``rptui`` command line (with its global options) that runs
        folders in a child process, through Ray; None: in the app's own process.
        ``live``: the trainer's status as the app knows it, for the models' F1."""
        super().__init__()
        self.project = project
        self.live = live
        self.workspace_root = workspace_root
        self.command = tuple(command) if command is not None else None
        self.tta = tta
        self.running = False
        self.report: FolderReport | None = None
        self.tables: list[Path] = []
        self.progress: tuple[int, int] = (0, 0)
        self._stop = threading.Event()
        self._child: subprocess.Popen[str] | None = None

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """The form, the progress and the summary."""
        source = str(self.project.dataset_dir) if self.project else ""
        yield Label("Segment a folder", classes="title")
        with Horizontal(classes="form-row"):
            yield Label("Images in", classes="form-label-short")
            yield Input(source, id="source", validators=[FolderExists()], compact=True)
        with Horizontal(classes="form-row"):
            yield Label("Masks to", classes="form-label-short")
            yield Input(
                self._default_output(source), id="output", validators=[OutputFolder()], compact=True
            )
        yield Static("", id="form-message", classes="form-message")
        yield Label("Models (space ticks; several make an ensemble)", classes="form-caption")
        yield ModelList(self.project, live=self.live, id="models")
        with Horizontal(classes="button-row"):
            yield Label("Format", classes="form-label-short")
            options = [(fmt, fmt) for fmt in FORMATS]
            yield Select(options, value="png", allow_blank=False, id="format", compact=True)
            yield Checkbox("TTA", self.tta, id="tta", compact=True)
        with Horizontal(classes="button-row"):  # a table of one row per image
            for kind in IMAGE_KINDS:
                yield Checkbox(kind, kind == "length", id=f"kind-{kind}", compact=True)
        with Horizontal(classes="button-row"):  # a table of one row per region
            yield Checkbox(REGIONS, False, id=f"kind-{REGIONS}", compact=True)
        with Horizontal(classes="button-row"):
            yield Button("Start", id="start", variant="primary", compact=True)
            yield Button("Cancel", id="cancel", compact=True, disabled=True)
            yield ProgressBar(id="progress", show_eta=False)
        yield Static("", id="progress-text")
        with VerticalScroll(id="summary-box"):
            yield Static("", id="summary")
        yield Footer()

    def _default_output(self, source: str) -> str:
        name = Path(source).name if source else "folder"
        return str(self.workspace_root / RESULTS_FOLDER / name)

    def on_mount(self) -> None:
        """Focus the first field."""
        self.query_one("#progress", ProgressBar).display = False  # until a run starts
        self.query_one("#source", Input).focus()

    def _say(self, text: str) -> None:
        self.query_one("#form-message", Static).update(text)

    @on(Input.Changed, "#source")
    @on(Input.Changed, "#output")
    def _validate(self, event: Input.Changed) -> None:
        result = event.validation_result
        self._say("" if result is None or result.is_valid else result.failure_descriptions[0])

    # -- running ------------------------------------------------------------------------------
    def job(self) -> FolderJob:
        """The run the form describes; ValueError saying what is missing."""
        for input_id in ("source", "output"):
            field = self.query_one(f"#{input_id}", Input)
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                raise ValueError(result.failure_descriptions[0])
        models = tuple(self.query_one("#models", SelectionList).selected)
        if not models:
            raise ValueError("choose at least one model (the project has none yet: train first)")
        fmt = self.query_one("#format", Select).value
        kinds = tuple(k for k in ALL_KINDS if self.query_one(f"#kind-{k}", Checkbox).value)
        return FolderJob(
            source=Path(self.query_one("#source", Input).value.strip()).expanduser(),
            output=Path(self.query_one("#output", Input).value.strip()).expanduser(),
            models=models,
            fmt=fmt,  # type: ignore[arg-type]  # one of FORMATS (allow_blank=False)
            kinds=kinds,
            tta=self.query_one("#tta", Checkbox).value,
            command=self.command,
        )

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        """Start the run the form describes (in a worker thread)."""
        if self.running:
            self.notify("already running; Escape cancels it")
            return
        try:
            job = self.job()
        except ValueError as error:
            self._say(str(error))
            self.notify(str(error), severity="error")
            return
        self._say("")
        self.running = True
        self.report, self.tables, self.progress = None, [], (0, 0)
        self._stop.clear()
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        bar = self.query_one("#progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#progress-text", Static).update(f"starting on {job.source}…")
        self.query_one("#summary", Static).update("")
        self._run(job)

    @work(thread=True, exclusive=True, group="segment-folder")
    def _run(self, job: FolderJob) -> None:
        errors = 0

        def progress(done: int, total: int, name: str, error: str) -> None:
            nonlocal errors
            errors += bool(error)
            self._call(self._show_progress, done, total, name, errors)

        try:
            if job.command is not None:
                report, tables = run_child(
                    job,
                    job.command,
                    progress,
                    stopped=self._stop.is_set,
                    track=self._track_child,
                    waiting=lambda reason: self._call(self._show_waiting, reason),
                )
            else:
                report = segment_folder(
                    job.source,
                    job.output,
                    list(job.models),
                    fmt=job.fmt,
                    tta=job.tta,
                    kinds=job.kinds,
                    on_progress=progress,
                    should_stop=self._stop.is_set,
                )
                tables = write_tables(report, job)
        except Exception as error:  # any failure ends the run with its message, never a crash
            log.warning("segmenting %s failed: %s", job.source, error)
            self._call(self._failed, f"{type(error).__name__}: {error}")
            return
        self._call(self._finished, report, job.output, tables)

    def _track_child(self, child: subprocess.Popen[str] | None) -> None:
        self._child = child

    def _call(self, callback: Any, *args: Any) -> None:
        """Run ``callback`` on the app's loop (nothing when the app has gone)."""
        try:
            self.app.call_from_thread(callback, *args)
        except RuntimeError as error:  # the app closed while the worker ran
            log.info("not shown: %s", error)

    def _show_progress(self, done: int, total: int, name: str, errors: int) -> None:
        self.progress = (done, total)
        self.query_one("#progress", ProgressBar).update(total=max(total, 1), progress=done)
        failed = f" · {errors} failed" if errors else ""
        self.query_one("#progress-text", Static).update(f"{done} / {total} · {name}{failed}")

    def _show_waiting(self, reason: str) -> None:
        if self.running and not self._stop.is_set():
            self.query_one("#progress-text", Static).update(reason)

    def _end(self) -> None:
        """Buttons back, and the bar still (hidden when no image was counted)."""
        self.running = False
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        done, total = self.progress
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=max(total, 1), progress=done)
        bar.display = total > 0

    def _failed(self, message: str) -> None:
        self._end()
        self.query_one("#summary", Static).update(f"stopped: {message}")
        self.notify(message, severity="error")

    def _finished(self, report: FolderReport, output: Path, tables: list[Path]) -> None:
        self._end()
        self.report, self.tables = report, tables
        line, summary = outcome_text(report, output, tables, self.progress)
        self.query_one("#summary", Static).update(summary)
        if line:
            self.query_one("#progress-text", Static).update(line)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Stop after the image being segmented now."""
        if self.running:
            self._stop.set()
            child = self._child
            if child is not None:  # a child run ends now; what it wrote stays
                child.terminate()
            self.query_one("#progress-text", Static).update("cancelling after this image…")

    def action_cancel_or_close(self) -> None:
        """Cancel a run, or go back when none runs."""
        if self.running:
            self.action_cancel()
        else:
            self.dismiss(None)

    def action_open_table(self) -> None:
        """Show the run's measurement table."""
        if not self.tables:
            self.notify("no table yet: tick a measurement and start a run")
            return
        table = self.tables[0]
        results = self.workspace_root / RESULTS_FOLDER
        self.app.push_screen(MeasurementsScreen(table, mask_folder=table.parent, results=results))

    def on_unmount(self) -> None:
        """A run still going stops after its current image."""
        self._stop.set()
        if self._child is not None:
            self._child.terminate()
