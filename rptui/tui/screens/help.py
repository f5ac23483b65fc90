"""Every key of the app, as the user has them mapped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

APP_KEY_PREFIX = "app."  # ids of the app's own keys (the screens it opens)
CLASS_ROW_PREFIX = "Class "  # the class keys' descriptions: "Class 1" .. "Class 9"
CLASS_ID_PREFIX = "annotate.class_"
SLICE_IDS = ("annotate.slice_previous", "annotate.slice_next")
BINARY_CLASS_COUNT = 2
QUIT_ACTION = "quit"


def screen_keys(app: App[object]) -> list[Binding]:
    """The app's keys that open its other screens (bindings whose id starts with ``app.``)."""
    return [
        binding
        for binding in app.BINDINGS
        if isinstance(binding, Binding) and (binding.id or "").startswith(APP_KEY_PREFIX)
    ]


def everywhere_rows(app: App[object]) -> list[tuple[str, str]]:
    """Keys that work on every screen: quit and the command palette."""
    quit_keys = [
        binding.key
        for binding in App.BINDINGS
        if isinstance(binding, Binding) and binding.action == QUIT_ACTION
    ]
    rows = [(key, "Quit") for key in quit_keys]
    if app.ENABLE_COMMAND_PALETTE:
        rows.append((app.COMMAND_PALETTE_BINDING, "Command palette: every command"))
    return rows


def binding_rows(bindings: Iterable[BindingType], keymap: dict[str, str]) -> list[tuple[str, str]]:
    """(keys, description) for each binding, with remapped keys taken from ``keymap``."""
    rows = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            continue
        keys = keymap.get(binding.id or "", binding.key)
        shown = binding.key_display if binding.key_display and keys == binding.key else keys
        rows.append((shown.replace(",", " "), binding.description or binding.action))
    return rows


def project_bindings(
    bindings: Iterable[BindingType], *, classes: tuple[str, ...], stacks: bool
) -> list[BindingType]:
    """The bindings that act in this project: class keys for its classes (none in a binary
    project, where key 1 only repeats Q), slice keys where there are stacks."""
    kept = []
    for binding in bindings:
        ident = binding.id if isinstance(binding, Binding) else None
        ident = ident or ""
        if ident.startswith(CLASS_ID_PREFIX):
            number = ident.removeprefix(CLASS_ID_PREFIX)
            if len(classes) == BINARY_CLASS_COUNT or not number.isdigit():
                continue
            if int(number) >= len(classes):
                continue
        if ident in SLICE_IDS and not stacks:
            continue
        kept.append(binding)
    return kept


def class_rows(rows: list[tuple[str, str]], classes: tuple[str, ...]) -> list[tuple[str, str]]:
    """Rows with "Class k" named by the project's class ("Class 2: soil")."""
    named = []
    for keys, description in rows:
        number = description.removeprefix(CLASS_ROW_PREFIX)
        if description.startswith(CLASS_ROW_PREFIX) and number.isdigit():
            k = int(number)
            description = f"{description}: {classes[k] if k < len(classes) else 'none'}"
        named.append((keys, description))
    return named


class HelpScreen(ModalScreen[None]):
    """A table of keys and what they do; any of Escape, ? or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        """The title and the table."""
        with VerticalScroll(classes="dialog"):
            yield Label("Keys (Escape closes)", classes="title")
            table: DataTable[str] = DataTable(id="keys-table", cursor_type="row")
            table.add_columns("Key", "Action")
            shown = {keys for keys, _ in self.rows}
            rows = [row for row in everywhere_rows(self.app) if row[0] not in shown]
            for keys, description in [*self.rows, *rows]:
                table.add_row(keys, description)
            yield table

    def action_close(self) -> None:
        """Back to where the user was."""
        self.dismiss(None)
