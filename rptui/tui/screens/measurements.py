"""The measurements screen: a table of measurements, sorted, filtered, summed; measure masks."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, Label, Static

from cluster.io.atomic import write_bytes_atomic
from cluster.measure.files import measure_files
from cluster.measure.tables import ALL_KINDS, ERROR_COLUMN, REGIONS, check_kinds
from rptui.errors import UserError
from rptui.folders.tables import read_table, table_bytes

log = logging.getLogger(__name__)

FILE_COLUMN = "file"
IMAGE_TABLE_NAME = "measurements.csv"
REGION_TABLE_NAME = "regions.csv"
# Columns the summary line adds up (when the table has them).
SUMMED_COLUMNS: tuple[str, ...] = (
    "length_px",
    "length_mm",
    "skeleton_pixels",
    "count",
    "tips",
    "branch_points",
    "area",
)
DEFAULT_KINDS: tuple[str, ...] = ("length", "count")


def table_for(folder: Path, kinds: tuple[str, ...]) -> Path:
    """Where measuring a folder of masks writes its table."""
    return folder / (REGION_TABLE_NAME if REGIONS in kinds else IMAGE_TABLE_NAME)


def shown_rows(
    table: pd.DataFrame, *, sort_by: str | None, descending: bool, text: str
) -> pd.DataFrame:
    """The rows on screen: those whose file name holds ``text``, sorted by one column."""
    rows = table
    if text and FILE_COLUMN in table.columns:
        names = table[FILE_COLUMN].astype(str)
        rows = table[names.str.contains(text, case=False, regex=False)]
    if sort_by is not None and sort_by in rows.columns:
        rows = rows.sort_values(
            sort_by, ascending=not descending, kind="stable", na_position="last"
        )
    return rows


def summary_line(rows: pd.DataFrame) -> str:
    """``n`` and, per summed column, the mean and the total over rows without an error."""
    good = rows
    if ERROR_COLUMN in rows.columns:
        good = rows[rows[ERROR_COLUMN].fillna("").astype(str) == ""]
    parts = [f"n {len(good)}"]
    if len(good) < len(rows):
        parts.append(f"{len(rows) - len(good)} failed")
    for name in SUMMED_COLUMNS:
        if name in good.columns and len(good):
            values = pd.to_numeric(good[name], errors="coerce").astype(float)
            parts.append(f"{name} mean {values.mean():.4g} total {values.sum():.4g}")
    return " · ".join(parts)


def cell_text(value: Any) -> str:
    """A value as the table shows it: floats to 4 significant digits, missing as blank."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class MeasurementsScreen(Screen[None]):
    """Shows a measurement table; S sorts by the column under the cursor (again: reversed)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort", "Sort by column", id="measurements.sort"),
        Binding("ctrl+l", "load", "Load table", id="measurements.load"),
        Binding("ctrl+s", "measure", "Measure folder", id="measurements.measure"),
        Binding("escape", "close", "Back", id="measurements.close"),
    ]

    def __init__(self, table_path: Path | None = None, *, mask_folder: Path | None = None) -> None:
        super().__init__()
        self.table_path = table_path
        self.mask_folder = mask_folder
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
        yield Static("", id="table-summary", classes="form-message")
        with Horizontal(classes="form-row"):
            yield Label("Masks in", classes="form-label-short")
            folder = str(self.mask_folder) if self.mask_folder else ""
            yield Input(folder, placeholder="a folder of masks", id="mask-folder", compact=True)
        with Horizontal(classes="button-row"):
            for kind in ALL_KINDS:
                yield Checkbox(kind, kind in DEFAULT_KINDS, id=f"kind-{kind}", compact=True)
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

    @on(Button.Pressed, "#measure")
    @on(Input.Submitted, "#mask-folder")
    def action_measure(self) -> None:
        """Measure the masks in the folder named (in a worker thread) and show the table."""
        folder = Path(self.query_one("#mask-folder", Input).value.strip()).expanduser()
        if not folder.is_dir() or not str(folder):
            self._say(f"no such folder: {folder}")
            return
        try:
            kinds = check_kinds(self.chosen_kinds())
        except ValueError as error:
            self._say(str(error))
            return
        self._say(f"measuring {folder} ({', '.join(kinds)})…")
        self._measure(folder, kinds)

    @work(thread=True, exclusive=True, group="measure")
    def _measure(self, folder: Path, kinds: tuple[str, ...]) -> None:
        from cluster.io.images import list_images

        paths, _ = list_images(folder)
        if not paths:
            self.app.call_from_thread(self._say, f"no mask images in {folder}")
            return

        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self._say, f"measuring {folder}: {done} / {total}")

        table = measure_files(paths, kinds=kinds, progress=progress)
        target = table_for(folder, kinds)
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
