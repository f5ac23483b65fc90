"""The settings screen: pre-segment N, brush sizes, overlay opacity, palette and keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.validation import Integer, Number
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, Label, Static

from rptui.session.stack import uses_stack_keys
from rptui.store.paths import WorkspaceError
from rptui.store.project import Project
from rptui.store.settings import BACKGROUND_BRUSH, BOUNDS, FOREGROUND_BRUSH
from rptui.tui.canvas.palettes import COLOURBLIND_PALETTE, DEFAULT_PALETTE
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.help import project_bindings, screen_keys

log = logging.getLogger(__name__)

KEY_BINDINGS = "key_bindings"
PALETTE = "palette"
# Keys no binding may take: they close dialogs, quit, open the palette or move the focus.
RESERVED_KEYS = frozenset({"escape", "ctrl+q", "ctrl+c", "ctrl+p", "tab", "shift+tab"})


@dataclass(frozen=True)
class NumberField:
    """One numeric setting: its key in project.json, its label and its range."""

    key: str
    label: str
    minimum: float
    maximum: float
    whole: bool = True

    def parse(self, text: str) -> int | float:
        """The value typed; ValueError naming the setting when it is out of range."""
        try:
            value: int | float = int(text) if self.whole else float(text)
        except ValueError:
            raise ValueError(f"{self.label}: {text!r} is not a number") from None
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{self.label}: {value} is not in {self.minimum}–{self.maximum}")
        return value


FIELDS: tuple[NumberField, ...] = (
    NumberField("pre_segment", "Pre-segment ahead", *BOUNDS["pre_segment"].span),
    NumberField(FOREGROUND_BRUSH, "Foreground brush", *BOUNDS[FOREGROUND_BRUSH].span),
    NumberField(BACKGROUND_BRUSH, "Background brush", *BOUNDS[BACKGROUND_BRUSH].span),
    NumberField("overlay_opacity", "Overlay opacity", *BOUNDS["overlay_opacity"].span, whole=False),
)


def remappable_bindings(app: App[Any], project: Project | None = None) -> list[Binding]:
    """Every binding of the annotate screen (canvas included) and the app's screen keys;
    with ``project``, only those acting in it (its class keys, slice keys where used)."""
    bindings = [*AnnotateScreen.BINDINGS, *AnnotationCanvas.BINDINGS, *screen_keys(app)]
    if project is not None:
        classes = tuple(project.config.classes)
        bindings = project_bindings(bindings, classes=classes, stacks=uses_stack_keys(project))
    return [b for b in bindings if isinstance(b, Binding) and b.id]


def key_in_use(key: str, binding_id: str, bindings: list[Binding], keymap: dict[str, str]) -> str:
    """The id of another binding that has ``key`` with ``keymap`` applied, or ''."""
    for binding in bindings:
        if binding.id == binding_id:
            continue
        keys = keymap.get(binding.id or "", binding.key).split(",")
        if key in (k.strip() for k in keys):
            return binding.id or binding.action
    return ""


class KeyCaptureScreen(ModalScreen[str | None]):
    """Waits for one key press and returns its name; Escape returns None."""

    def __init__(self, what: str, binding_id: str) -> None:
        super().__init__()
        self.what = what
        self.binding_id = binding_id

    def compose(self) -> ComposeResult:
        """One line of instructions."""
        with Vertical(classes="dialog"):
            yield Label(f"Press the new key for {self.what}")
            yield Label(f"{self.binding_id} · Escape cancels", classes="form-caption")

    def on_key(self, event: events.Key) -> None:
        """The key pressed, whatever it is."""
        event.stop()
        event.prevent_default()
        self.dismiss(None if event.key == "escape" else event.key)


class SettingsScreen(Screen[None]):
    """Edit the project's settings; Ctrl+S saves them and the annotate screen uses them at once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="settings.save"),
        Binding("ctrl+r", "reset_keys", "Default keys", id="settings.reset_keys"),
        Binding("escape", "close", "Back", id="settings.close"),
    ]

    def __init__(self, project: Project, bindings: list[Binding]) -> None:
        super().__init__()
        self.project = project
        self.bindings = bindings
        self.keymap: dict[str, str] = dict(project.config.settings.key_bindings)

    def compose(self) -> ComposeResult:
        """The numeric settings, the palette switch, the key table and the buttons."""
        settings = self.project.config.settings
        yield Label(f"Settings of {self.project.name}", classes="title")
        for field in FIELDS:
            validator = (
                Integer(minimum=int(field.minimum), maximum=int(field.maximum))
                if field.whole
                else Number(minimum=field.minimum, maximum=field.maximum)
            )
            with Horizontal(classes="form-row"):
                span = f"{field.minimum:g}–{field.maximum:g}"
                yield Label(f"{field.label} ({span})", classes="form-label")
                value = getattr(settings, field.key)
                yield Input(
                    str(value), id=f"setting-{field.key}", validators=[validator], compact=True
                )
        colourblind = settings.palette == COLOURBLIND_PALETTE.name
        yield Checkbox("Colour-blind palette (Okabe–Ito)", colourblind, id="palette", compact=True)
        yield Static(self._notice(), id="settings-message", classes="form-message")
        table: DataTable[str] = DataTable(id="bindings", cursor_type="row")
        table.add_columns("Binding", "Key", "Action")
        yield table
        with Horizontal(classes="button-row"):
            disabled = self.project.read_only
            yield Button("Save", id="save", variant="primary", compact=True, disabled=disabled)
            yield Button("Default keys", id="reset-keys", compact=True)
            yield Button("Back", id="back", compact=True)
        yield Footer()

    def _notice(self) -> str:
        if self.project.read_only:
            reason = self.project.read_only_reason or "open elsewhere"
            return f"read-only project ({reason}): settings cannot be saved"
        return "Enter on a binding, then the new key · Ctrl+S saves"

    def on_mount(self) -> None:
        """Fill the key table."""
        self._fill_keys()
        self.query_one(f"#setting-{FIELDS[0].key}", Input).focus()

    def key_of(self, binding: Binding) -> str:
        """The key a binding has with this screen's keymap."""
        return self.keymap.get(binding.id or "", binding.key)

    def _fill_keys(self) -> None:
        table = self.query_one("#bindings", DataTable)
        row = table.cursor_row
        table.clear()
        for binding in self.bindings:
            key = self.key_of(binding)
            shown = binding.key_display if binding.key_display and key == binding.key else key
            table.add_row(
                binding.id or "", shown, binding.description or binding.action, key=binding.id
            )
        table.move_cursor(row=row)

    def _say(self, text: str) -> None:
        self.query_one("#settings-message", Static).update(text)

    # -- keys ---------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#bindings")
    def _change_key(self, event: DataTable.RowSelected) -> None:
        binding_id = str(event.row_key.value)
        binding = next(b for b in self.bindings if b.id == binding_id)
        title = binding.description or binding.action

        def chosen(key: str | None) -> None:
            if key is not None:
                self.remap(binding_id, key)

        self.app.push_screen(KeyCaptureScreen(title, binding_id), chosen)

    def remap(self, binding_id: str, key: str) -> bool:
        """Give a binding a new key; refused (False) when another binding has that key."""
        if key in RESERVED_KEYS:
            self._say(f"{key} is reserved for the app")
            return False
        other = key_in_use(key, binding_id, self.bindings, self.keymap)
        if other:
            self._say(f"{key} is already used by {other}")
            self.notify(f"{key} is already used by {other}", severity="warning")
            return False
        default = next(b.key for b in self.bindings if b.id == binding_id)
        if key == default:
            self.keymap.pop(binding_id, None)
        else:
            self.keymap[binding_id] = key
        self._say(f"{binding_id} → {key} (Ctrl+S saves)")
        self._fill_keys()
        return True

    def action_reset_keys(self) -> None:
        """Every binding back to its default key."""
        self.keymap.clear()
        self._fill_keys()
        self._say("every key back to its default (Ctrl+S saves)")

    # -- saving -------------------------------------------------------------------------------
    def read_form(self) -> dict[str, Any]:
        """The settings as typed; ValueError naming the first bad field."""
        values: dict[str, Any] = {}
        for field in FIELDS:
            values[field.key] = field.parse(self.query_one(f"#setting-{field.key}", Input).value)
        colourblind = self.query_one("#palette", Checkbox).value
        values[PALETTE] = (COLOURBLIND_PALETTE if colourblind else DEFAULT_PALETTE).name
        values[KEY_BINDINGS] = dict(self.keymap)
        return values

    def action_save(self) -> None:
        """Write the settings into project.json and apply them at once."""
        if self.project.read_only:
            self._say(self._notice())
            self.notify("read-only project: settings cannot be saved", severity="error")
            return
        try:
            values = self.read_form()
        except ValueError as error:
            self._say(str(error))
            self.notify(str(error), severity="error")
            return
        settings = self.project.config.settings
        before = {key: getattr(settings, key) for key in values}
        settings.update(values)
        try:
            self.project.save_config()
        except (OSError, WorkspaceError) as error:
            settings.update(before)
            self.notify(f"settings not saved: {error}", severity="error")
            return
        self.app.set_keymap(dict(self.keymap))
        for screen in self.app.screen_stack:
            if isinstance(screen, AnnotateScreen):
                screen.apply_settings()
        self.notify("settings saved")
        self.dismiss(None)

    def action_close(self) -> None:
        """Back without saving."""
        self.dismiss(None)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#reset-keys")
    def _reset_pressed(self) -> None:
        self.action_reset_keys()

    @on(Button.Pressed, "#back")
    def _back_pressed(self) -> None:
        self.action_close()
