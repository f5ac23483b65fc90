"""The rptui terminal app: a project picker, the annotate/review screen and its tools."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from cluster.api import Backend, TrainingConfig
from rptui.session.review import ReviewSession
from rptui.store.project import Project
from rptui.store.workspace import Workspace
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.help import HelpScreen, binding_rows
from rptui.tui.screens.measurements import MeasurementsScreen
from rptui.tui.screens.picker import ProjectPickerScreen
from rptui.tui.screens.segment_folder import SegmentFolderScreen
from rptui.tui.screens.settings import SettingsScreen, remappable_bindings

log = logging.getLogger(__name__)

BACKEND_START_TIMEOUT_S = 120.0
BACKEND_CLOSE_TIMEOUT_S = 30.0
BackendFactory = Callable[[str], Backend | None]  # called with the project's name


class RptuiApp(App[None]):
    """Corrective annotation from a terminal.

    Args:
        workspace: the workspace holding datasets and projects.
        project: a project to open at once (else the picker is shown).
        backend_factory: builds the backend for a project name (called in a thread when
            a project opens); None, a failure or a timeout means offline.
        training_config: what T starts training with (the project's classes by default).
        animate: False keeps the spinner still (for snapshots).
        start_training: start the trainer as soon as the backend is there (the demo).
        command: this ``rptui`` with its global options, to run folder segmentation in a
            child process (on Ray); None runs it inside the app.
    """

    CSS_PATH = "app.tcss"
    TITLE = "rptui"
    # Letters ARCHITECTURE.md leaves free; ids start with "app." (see help.screen_keys).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "segment_folder", "Segment folder", show=False, id="app.segment_folder"),
        Binding("m", "measurements", "Measurements", show=False, id="app.measurements"),
        Binding("o", "settings", "Settings", show=False, id="app.settings"),
    ]

    def __init__(
        self,
        workspace: Workspace,
        *,
        project: Project | None = None,
        backend_factory: BackendFactory | None = None,
        training_config: TrainingConfig | None = None,
        animate: bool = True,
        start_training: bool = False,
        command: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.start_training = start_training
        self.command = command
        self.workspace = workspace
        self.project = project
        self.backend_factory = backend_factory
        self.backend: Backend | None = None
        self.training_config = training_config
        self.animate = animate

    def on_mount(self) -> None:
        """Open the given project or show the picker."""
        if self.project is not None:
            self.open_project(self.project)
        else:
            self.push_screen(ProjectPickerScreen(self.workspace))

    def open_project(self, project: Project) -> None:
        """Show a project's annotate screen and connect its backend in the background."""
        if self.project is not None and self.project is not project:
            self.project.close()
        self.project = project
        keymap = project.config.settings.get("key_bindings") or {}
        if isinstance(keymap, dict):
            self.update_keymap({str(k): str(v) for k, v in keymap.items()})
        self.sub_title = project.name + (" (read-only)" if project.read_only else "")
        if project.read_only:
            self.notify(
                f"read-only: {project.read_only_reason or 'locked by another session'}",
                severity="warning",
            )
        screen = AnnotateScreen(
            ReviewSession(project),
            None,
            training_config=self.training_config,
            animate=self.animate,
            start_training=self.start_training,
        )
        screen.offline = self.backend_factory is None
        self.push_screen(screen)
        if self.backend_factory is not None:
            screen.reconnect = partial(self.backend_factory, project.name)
            self.run_worker(self._connect(screen, project.name), group="connect", exclusive=True)

    async def _connect(self, screen: AnnotateScreen, name: str) -> None:
        factory = self.backend_factory
        assert factory is not None
        try:
            backend = await asyncio.wait_for(
                asyncio.to_thread(factory, name), BACKEND_START_TIMEOUT_S
            )
        except Exception as error:  # any failure to connect means offline, never a crash
            log.warning("no backend: %s", error)
            self.notify(f"offline: {error}; annotation still works", severity="warning")
            backend = None
        self.backend = backend
        screen.set_backend(backend)

    def action_help(self) -> None:
        """The keys of the screen on top."""
        bindings = [*self.screen.BINDINGS, *self.BINDINGS]
        self.push_screen(HelpScreen(binding_rows(bindings, dict(self._keymap))))

    def action_segment_folder(self) -> None:
        """Segment a folder of images with the project's models."""
        if isinstance(self.screen, SegmentFolderScreen):
            return
        screen = SegmentFolderScreen(
            self.project, workspace_root=self.workspace.root, command=self.command
        )
        self.push_screen(screen)

    def action_measurements(self) -> None:
        """Look at a measurement table, or measure a folder of masks."""
        if not isinstance(self.screen, MeasurementsScreen):
            self.push_screen(MeasurementsScreen())

    def action_settings(self) -> None:
        """Edit the open project's settings."""
        if isinstance(self.screen, SettingsScreen):
            return
        if self.project is None:
            self.notify("open a project first", severity="warning")
            return
        self.push_screen(SettingsScreen(self.project, remappable_bindings(self, self.project)))

    def _key(self, binding_id: str) -> str:
        """The key of one of the app's own bindings, as the user has it mapped."""
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                return self._keymap.get(binding_id, binding.key)
        return ""

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette: Textual's commands, the app's screens, every key binding of the screen."""
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Segment a folder",
            f"masks and tables for a folder of images (key {self._key('app.segment_folder')})",
            self.action_segment_folder,
        )
        yield SystemCommand(
            "Measurements",
            f"show a table or measure a folder of masks (key {self._key('app.measurements')})",
            self.action_measurements,
        )
        yield SystemCommand(
            "Settings",
            f"pre-segment, brushes, opacity, palette, keys (key {self._key('app.settings')})",
            self.action_settings,
        )
        seen: set[str] = set()
        for binding in screen.BINDINGS:
            if not isinstance(binding, Binding) or binding.action in seen:
                continue
            seen.add(binding.action)
            title = binding.description or binding.action
            keys = binding.key_display or binding.key
            yield SystemCommand(title, f"key {keys}", partial(screen.run_action, binding.action))

    async def on_unmount(self) -> None:
        """Close the backend client and release the project."""
        backend, self.backend = self.backend, None
        if backend is not None:
            try:
                await asyncio.wait_for(backend.close(), BACKEND_CLOSE_TIMEOUT_S)
            except Exception as error:  # leaving must not fail
                log.warning("closing the backend: %s", error)
        if self.project is not None:
            self.project.close()
