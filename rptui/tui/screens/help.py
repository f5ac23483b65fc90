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


def screen_keys(app: App[object]) -> list[Binding]:
    """The app's keys that open its other screens (bindings whose id starts with ``app.``)."""
    return [
        binding
        for binding in app.BINDINGS
        if isinstance(binding, Binding) and (binding.id or "").startswith(APP_KEY_PREFIX)
    ]


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
            for keys, description in self.rows:
                table.add_row(keys, description)
            yield table

    def action_close(self) -> None:
        """Back to where the user was."""
        self.dismiss(None)
