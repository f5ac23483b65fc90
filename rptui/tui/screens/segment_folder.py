"""The segment-folder screen: a folder of images through the project's models, with tables."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
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
from textual.widgets.selection_list import Selection

from cluster.atomic import write_bytes_atomic
from cluster.mask_formats import FORMATS, MaskFormat
from cluster.measure import ALL_KINDS, IMAGE_KINDS, REGIONS
from rptui.commands.measuring import table_bytes
from rptui.project import Project
from rptui.segment_folder import FolderReport, segment_folder
from rptui.tui.screens.measurements import IMAGE_TABLE_NAME, REGION_TABLE_NAME, MeasurementsScreen

log = logging.getLogger(__name__)

RESULTS_FOLDER = "results"  # default outputs go to <workspace>/results/<input folder name>
FAILED_LISTED = 20  # failures named in the summary; the rest are counted


class FolderExists(Validator):
    """An existing folder (the message names the one that is missing)."""

    def validate(self, value: str) -> ValidationResult:
        """Valid when ``value`` names a folder."""
        path = Path(value.strip()).expanduser()
        if value.strip() and path.is_dir():
            return self.success()
        return self.failure(f"no such folder: {value.strip() or '(empty)'}")


class OutputFolder(Validator):
    """A folder to write into: it may not exist yet, but must not be a file."""

    def validate(self, value: str) -> ValidationResult:
        """Valid when ``value`` is not empty and not a file."""
        path = Path(value.strip()).expanduser()
        if not value.strip():
            return self.failure("name a folder for the masks")
        if path.exists() and not path.is_dir():
            return self.failure(f"not a folder: {value.strip()}")
        return self.success()


@dataclass(frozen=True)
class FolderJob:
    """What the Start button runs."""

    source: Path
    output: Path
    models: tuple[Path, ...]
    fmt: MaskFormat
    kinds: tuple[str, ...]
    tta: bool
    command: tuple[str, ...] | None  # run as this ``rptui`` command line, else in the app

    def segment_arguments(self) -> list[str]:
        """``rptui segment`` arguments for this run, reporting JSON lines."""
        words = ["segment", str(self.source), str(self.output), "--format", self.fmt]
        for model in self.models:
            words += ["--model", str(model)]
        if self.kinds:
            words += ["--measure", ",".join(self.kinds)]
        if not self.tta:
            words.append("--no-tta")
        return [*words, "--progress-jsonl"]


def table_paths(output: Path, kinds: tuple[str, ...]) -> tuple[Path | None, Path | None]:
    """The image table and the region table a run writes (None when not measured)."""
    image = output / IMAGE_TABLE_NAME if set(kinds) & set(IMAGE_KINDS) else None
    regions = output / REGION_TABLE_NAME if REGIONS in kinds else None
    return image, regions


def summary_text(report: FolderReport, output: Path, tables: list[Path]) -> str:
    """What a run did, as the summary shows it."""
    head = "cancelled: " if report.cancelled else ""
    lines = [
        f"{head}{len(report.written)} masks written to {output}, "
        f"{len(report.skipped_existing)} already there, {len(report.failed)} failed "
        f"({report.seconds:.1f} s)"
    ]
    for path, reason in report.failed[:FAILED_LISTED]:
        lines.append(f"failed {path.name}: {reason}")
    if len(report.failed) > FAILED_LISTED:
        lines.append(f"... and {len(report.failed) - FAILED_LISTED} more failed")
    lines.extend(f"table: {path}" for path in tables)
    if tables:
        lines.append("Ctrl+T shows the table")
    return "\n".join(lines)


def model_f1(path: Path) -> float | None:
    """The validation F1 a model file records (None when it records none or is unreadable)."""
    from cluster.modelfile import ModelFileError, load_model_file

    try:
        return load_model_file(path).f1
    except ModelFileError as error:
        log.warning("cannot read %s: %s", path, error)
        return None


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
    ) -> None:
        """``command``: the ``rptui`` command line (with its global options) that runs
        folders in a child process, through Ray; None: in the app's own process."""
        super().__init__()
        self.project = project
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
        yield SelectionList[Path](*self._model_options({}), id="models", compact=True)
        with Horizontal(classes="button-row"):
            yield Label("Format", classes="form-label-short")
            options = [(fmt, fmt) for fmt in FORMATS]
            yield Select(options, value="png", allow_blank=False, id="format", compact=True)
            yield Checkbox("TTA", self.tta, id="tta", compact=True)
        with Horizontal(classes="button-row"):
            for kind in ALL_KINDS:
                yield Checkbox(kind, kind == "length", id=f"kind-{kind}", compact=True)
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

    def _model_options(self, f1s: dict[Path, float | None]) -> list[Selection[Path]]:
        if self.project is None:
            return []
        models = self.project.models()
        options = []
        for info in models:
            f1 = f1s.get(info.path)
            text = f"#{info.number}  F1 {f1:.3f}" if f1 is not None else f"#{info.number}"
            options.append(Selection(f"{text}  {info.path.name}", info.path, info == models[-1]))
        return options

    def on_mount(self) -> None:
        """Focus the first field and read the models' F1 in the background."""
        self.query_one("#progress", ProgressBar).display = False  # until a run starts
        self.query_one("#source", Input).focus()
        if self.project is not None and self.project.models():
            self._read_f1s()

    @work(thread=True, exclusive=True, group="model-f1")
    def _read_f1s(self) -> None:
        assert self.project is not None
        f1s = {info.path: model_f1(info.path) for info in self.project.models()}
        self.app.call_from_thread(self._show_f1s, f1s)

    def _show_f1s(self, f1s: dict[Path, float | None]) -> None:
        models = self.query_one("#models", SelectionList)
        chosen = set(models.selected)
        models.clear_options()
        for option in self._model_options(f1s):
            models.add_option(option)
        models.deselect_all()
        for path in chosen:
            models.select(path)

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
                report, tables = self._run_child(job, job.command, progress)
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
                tables = self._write_tables(report, job)
        except Exception as error:  # any failure ends the run with its message, never a crash
            log.warning("segmenting %s failed: %s", job.source, error)
            self._call(self._failed, f"{type(error).__name__}: {error}")
            return
        self._call(self._finished, report, job.output, tables)

    def _run_child(
        self, job: FolderJob, command: tuple[str, ...], progress: Any
    ) -> tuple[FolderReport, list[Path]]:
        """Run ``rptui segment`` as a child (it drives Ray Data) and follow its JSON lines."""
        child = subprocess.Popen(
            [*command, *job.segment_arguments()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._child = child
        summary: dict[str, Any] | None = None
        assert child.stdout is not None and child.stderr is not None
        for line in child.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:  # not one of ours: the log has it
                log.info("segment: %s", line.rstrip())
                continue
            if "report" in message:
                summary = message["report"]
            else:
                progress(message["done"], message["total"], message["file"], message["error"])
        errors = child.stderr.read()
        child.wait()
        self._child = None
        if summary is not None:
            return FolderReport.from_summary(summary)
        if self._stop.is_set():  # cancelled: what was written stays (runs are resumable)
            return FolderReport(cancelled=True), []
        last = errors.strip().splitlines()[-1] if errors.strip() else f"exit {child.returncode}"
        raise RuntimeError(last)

    def _call(self, callback: Any, *args: Any) -> None:
        """Run ``callback`` on the app's loop (nothing when the app has gone)."""
        try:
            self.app.call_from_thread(callback, *args)
        except RuntimeError as error:  # the app closed while the worker ran
            log.info("not shown: %s", error)

    @staticmethod
    def _write_tables(report: FolderReport, job: FolderJob) -> list[Path]:
        image, regions = table_paths(job.output, job.kinds)
        written = []
        for path, table in ((image, report.image_table), (regions, report.region_table)):
            if path is not None:
                write_bytes_atomic(path, table_bytes(table(), path))
                written.append(path)
        return written

    def _show_progress(self, done: int, total: int, name: str, errors: int) -> None:
        self.progress = (done, total)
        self.query_one("#progress", ProgressBar).update(total=max(total, 1), progress=done)
        failed = f" · {errors} failed" if errors else ""
        self.query_one("#progress-text", Static).update(f"{done} / {total} · {name}{failed}")

    def _end(self) -> None:
        self.running = False
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True

    def _failed(self, message: str) -> None:
        self._end()
        self.query_one("#summary", Static).update(f"stopped: {message}")
        self.notify(message, severity="error")

    def _finished(self, report: FolderReport, output: Path, tables: list[Path]) -> None:
        self._end()
        self.report, self.tables = report, tables
        self.query_one("#summary", Static).update(summary_text(report, output, tables))
        if not report.written and not report.skipped_existing and not report.failed:
            self.query_one("#progress-text", Static).update("no images in the folder")

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
        self.app.push_screen(MeasurementsScreen(self.tables[0], mask_folder=self.tables[0].parent))

    def on_unmount(self) -> None:
        """A run still going stops after its current image."""
        self._stop.set()
        if self._child is not None:
            self._child.terminate()
