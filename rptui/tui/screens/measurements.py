"""The measurements screen: a table of measurements, sorted, filtered, summed, a column's
histogram; measure masks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

import pandas as pd
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, Label, Static

from cluster.io.atomic import write_bytes_atomic
from rptui.errors import UserError
from rptui.folders.measuring import (
    ALL_KINDS,
    IMAGE_KINDS,
    REGIONS,
    chosen_kinds,
    measure_folder,
)
from rptui.folders.table_view import (
    cell_text,
    good_rows,
    shown_rows,
    summary_line,
    table_for,
)
from rptui.folders.tables import TABLE_SUFFIXES, read_table, table_bytes
from rptui.tui.widgets.column_histogram import ColumnHistogram

log = logging.getLogger(__name__)

DEFAULT_KINDS: tuple[str, ...] = ("length", "count")


class MeasurementsScreen(Screen[None]):
    """Shows a measurement table; S sorts by the column under the cursor (again: reversed)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort", "Sort by column", id="measurements.sort"),
        Binding("h", "histogram", "Histogram of column", id="measurements.histogram"),
        Binding("ctrl+l", "load", "Load table", id="measurements.load"),
        Binding("ctrl+s", "measure", "Measure folder", id="measurements.measure"),
        Binding("escape", "close", "Back", id="measurements.close"),
    ]

    def __init__(
        self,
        table_path: Path | None = None,
        *,
        mask_folder: Path | None = None,
        results: Path | None = None,
    ) -> None:
        """``results``: the folder that measuring writes tables into by default (one
        subfolder per mask folder); without it the user names the table."""
        super().__init__()
        self.table_path = table_path
        self.mask_folder = mask_folder
        self.results = results
        self._default_target = self._target_for(str(mask_folder or ""), DEFAULT_KINDS)
        self.table = pd.DataFrame()
        self.sort_by: str | None = None
        self.descending = False

    def compose(self) -> ComposeResult:
        """The table's path, the filter, the table, its summary and the measure form."""
        yield Label("Measurements", classes="title")
        with Horizontal(classes="form-row"):
            yield Label("Table", classes="form-label-short")
            path = str(self.table_path) if self.table_path else ""
            yield Input(path, placeholder="a .csv or .parquet table", id="table-path", compact=True)
        with Horizontal(classes="form-row"):
            yield Label("Filter", classes="form-label-short")
            yield Input(placeholder="part of a file name", id="filter", compact=True)
        yield DataTable(id="measurements", zebra_stripes=True)
        yield ColumnHistogram(id="column-histogram")
        yield Static("", id="table-summary", classes="form-message")
        with Horizontal(classes="form-row"):
            yield Label("Masks in", classes="form-label-short")
            folder = str(self.mask_folder) if self.mask_folder else ""
            yield Input(folder, placeholder="a folder of masks", id="mask-folder", compact=True)
        with Horizontal(classes="form-row"):
            yield Label("Table to", classes="form-label-short")
            yield Input(
                self._default_target,
                placeholder="the table to write: .csv or .parquet",
                id="table-target",
                compact=True,
            )
        with Horizontal(classes="button-row"):  # one row per image: any of these
            for kind in IMAGE_KINDS:
                yield Checkbox(kind, kind in DEFAULT_KINDS, id=f"kind-{kind}", compact=True)
        with Horizontal(classes="button-row"):  # or one row per region
            yield Checkbox(REGIONS, REGIONS in DEFAULT_KINDS, id=f"kind-{REGIONS}", compact=True)
            yield Button("Measure", id="measure", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        """Load the table given, if any."""
        if self.table_path is not None:
            self.load(self.table_path)
        else:
            self.query_one("#table-path", Input).focus()

    # -- the table ----------------------------------------------------------------------------
    def load(self, path: Path) -> bool:
        """Show the table at ``path``; False (and a message) when it cannot be read."""
        try:
            table = read_table(path)
        except UserError as error:
            self._say(str(error))
            return False
        self.table_path = path
        self.query_one("#table-path", Input).value = str(path)
        self.show_table(table)
        return True

    def show_table(self, table: pd.DataFrame) -> None:
        """Show a table (the sort and filter are kept when it has the sorted column)."""
        self.table = table
        if self.sort_by not in table.columns:
            self.sort_by, self.descending = None, False
        self._render_rows()
        self.query_one("#measurements", DataTable).focus()

    def shown(self) -> pd.DataFrame:
        """The rows on screen, in screen order."""
        text = self.query_one("#filter", Input).value.strip()
        return shown_rows(self.table, sort_by=self.sort_by, descending=self.descending, text=text)

    def _render_rows(self) -> None:
        grid = self.query_one("#measurements", DataTable)
        column = grid.cursor_column
        grid.clear(columns=True)
        for name in self.table.columns:
            mark = ""
            if name == self.sort_by:
                mark = " ▼" if self.descending else " ▲"
            grid.add_column(f"{name}{mark}", key=str(name))
        rows = self.shown()
        for row in rows.itertuples(index=False):
            grid.add_row(*(cell_text(value) for value in row))
        grid.move_cursor(column=min(column, max(len(self.table.columns) - 1, 0)))
        self._say(summary_line(rows))
        histogram = self.query_one(ColumnHistogram)
        if histogram.column is not None and histogram.column in self.table.columns:
            histogram.show_column(histogram.column, good_rows(rows)[histogram.column])

    def _say(self, text: str) -> None:
        self.query_one("#table-summary", Static).update(text)

    def action_sort(self) -> None:
        """Sort by the column under the cursor; the same column again reverses the order."""
        grid = self.query_one("#measurements", DataTable)
        if not len(self.table.columns):
            return
        name = str(self.table.columns[grid.cursor_column])
        self.descending = not self.descending if name == self.sort_by else False
        self.sort_by = name
        self._render_rows()

    def action_histogram(self) -> None:
        """Draw the histogram of the column under the cursor (rows shown, none failed)."""
        if not len(self.table.columns):
            return
        name = str(self.table.columns[self.query_one("#measurements", DataTable).cursor_column])
        self.query_one(ColumnHistogram).show_column(name, good_rows(self.shown())[name])

    @on(DataTable.HeaderSelected, "#measurements")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.query_one("#measurements", DataTable).move_cursor(column=event.column_index)
        self.action_sort()

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._render_rows()

    @on(Input.Submitted, "#table-path")
    def action_load(self) -> None:
        """Load the table named in the path box."""
        text = self.query_one("#table-path", Input).value.strip()
        if text:
            self.load(Path(text).expanduser())

    # -- measuring ----------------------------------------------------------------------------
    def chosen_kinds(self) -> tuple[str, ...]:
        """The measurement kinds ticked."""
        return tuple(k for k in ALL_KINDS if self.query_one(f"#kind-{k}", Checkbox).value)

    def _target_for(self, folder: str, kinds: tuple[str, ...]) -> str:
        if self.results is None or not folder.strip():
            return ""
        return str(table_for(self.results, Path(folder.strip()).expanduser(), kinds))

    @on(Input.Changed, "#mask-folder")
    @on(Checkbox.Changed)
    def _follow_form(self) -> None:
        """The default table follows the folder and kinds until the user names one."""
        target = self.query_one("#table-target", Input)
        if target.value != self._default_target:
            return
        folder = self.query_one("#mask-folder", Input).value
        self._default_target = self._target_for(folder, self.chosen_kinds())
        target.value = self._default_target

    def chosen_target(self) -> Path:
        """The table to write; ValueError saying what is wrong with the name."""
        text = self.query_one("#table-target", Input).value.strip()
        if not text:
            raise ValueError("name the table to write (Table to)")
        target = Path(text).expanduser()
        if target.suffix.lower() not in TABLE_SUFFIXES:
            raise ValueError(f"a table must end in .csv or .parquet, not {target.name!r}")
        if target.is_dir():
            raise ValueError(f"{target} is a folder: name the table file")
        return target

    @on(Button.Pressed, "#measure")
    @on(Input.Submitted, "#mask-folder")
    def action_measure(self) -> None:
        """Measure the masks in the folder named (in a worker thread) and show the table."""
        folder = Path(self.query_one("#mask-folder", Input).value.strip()).expanduser()
        if not folder.is_dir() or not str(folder):
            self._say(f"no such folder: {folder}")
            return
        try:
            kinds = chosen_kinds(self.chosen_kinds())
            target = self.chosen_target()
        except (UserError, ValueError) as error:
            self._say(str(error))
            return
        self._say(f"measuring {folder} ({', '.join(kinds)}) into {target}…")
        self._measure(folder, kinds, target)

    @work(thread=True, exclusive=True, group="measure")
    def _measure(self, folder: Path, kinds: tuple[str, ...], target: Path) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self._say, f"measuring {folder}: {done} / {total}")

        try:
            table = measure_folder(folder, kinds=kinds, progress=progress).table
        except UserError as error:
            self.app.call_from_thread(self._say, str(error))
            return
        try:
            write_bytes_atomic(target, table_bytes(table, target))
        except OSError as error:
            log.warning("could not write %s: %s", target, error)
            self.app.call_from_thread(self._say, f"table not written: {error}")
            return
        self.app.call_from_thread(self._measured, target, table)

    def _measured(self, target: Path, table: pd.DataFrame) -> None:
        self.table_path = target
        self.query_one("#table-path", Input).value = str(target)
        self.show_table(table)
        self.notify(f"table written to {target}")

    def action_close(self) -> None:
        """Back to where the user was."""
        self.dismiss(None)
