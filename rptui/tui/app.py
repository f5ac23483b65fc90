"""The rptui terminal app: a project picker, the annotate/review screen and its tools."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import ClassVar

from rich.console import RenderableType
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from cluster.api import Backend, TrainingConfig
from rptui.folders.table_view import RESULTS_FOLDER
from rptui.session.link.backend_link import BackendLink
from rptui.session.review import ReviewSession
from rptui.session.stack import uses_stack_keys
from rptui.store.project import Project
from rptui.store.workspace import Workspace
from rptui.tui.colours import ADVICE_SECONDS, colour_advice
from rptui.tui.graphics.hub import GraphicsHub
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.help import HelpScreen, binding_rows, project_bindings
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
        advise_colours: say once, at the start, when the terminal shows few colours.
        graphics: how the canvas reaches the terminal: true pixels (Kitty graphics or
            Sixel, detected before the app starts) or half blocks (the default).
    """

    CSS_PATH = "app.tcss"
    TITLE = "rptui"
    # Letters the annotate screen leaves free; ids start with "app." (see help.screen_keys).
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
        advise_colours: bool = False,
        graphics: GraphicsHub | None = None,
    ) -> None:
        super().__init__()
        self.graphics = graphics if graphics is not None else GraphicsHub()
        self.graphics.attach(self)
        self.advise_colours = advise_colours
        self.start_training = start_training
        self.command = command
        self.workspace = workspace
        self.project = project
        self.backend_factory = backend_factory
        self.link: BackendLink | None = None  # the open project's link to its backend
        self.training_config = training_config
        self.spinner = animate  # the status line's spinner turns (not in snapshots)

    def on_mount(self) -> None:
        """Open the given project or show the picker."""
        advice = colour_advice(self.console.color_system) if self.advise_colours else None
        if advice is not None:
            self.notify(advice, severity="warning", timeout=ADVICE_SECONDS)
        if self.project is not None:
            self.open_project(self.project)
        else:
            self.push_screen(ProjectPickerScreen(self.workspace))

    def open_project(self, project: Project) -> None:
        """Show a project's annotate screen and connect its backend in the background."""
        if self.project is not None and self.project is not project:
            self.project.close()
        self.project = project
        self.update_keymap(dict(project.config.settings.key_bindings))
        for problem in project.config.settings.problems:
            self.notify(problem, severity="warning")
        self.sub_title = project.name + (" (read-only)" if project.read_only else "")
        if project.read_only:
            self.notify(
                f"read-only: {project.read_only_reason or 'locked by another session'}",
                severity="warning",
            )
        factory = self.backend_factory
        link = BackendLink(
            ReviewSession(project),
            training_config=self.training_config,
            start_training=self.start_training,
            reconnect=partial(factory, project.name) if factory is not None else None,
        )
        self.link = link
        self.push_screen(AnnotateScreen(link.session, link, animate=self.spinner))
        if factory is not None:
            self.run_worker(self._connect(link, project.name), group="connect", exclusive=True)

    async def _connect(self, link: BackendLink, name: str) -> None:
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
        link.attach(backend)

    @property
    def backend(self) -> Backend | None:
        """The backend of the open project (a fresh one after a reconnect); closed on exit."""
        return self.link.backend if self.link is not None else None

    def action_help(self) -> None:
        """The keys of the screen on top."""
        bindings = [*self.screen.BINDINGS, *self.BINDINGS]
        self.push_screen(HelpScreen(binding_rows(bindings, dict(self._keymap))))

    def action_segment_folder(self) -> None:
        """Segment a folder of images with the project's models."""
        if isinstance(self.screen, SegmentFolderScreen):
            return
        link = self.link
        screen = SegmentFolderScreen(
            self.project,
            workspace_root=self.workspace.root,
            command=self.command,
            live=(lambda: link.shown_status) if link is not None else None,
        )
        self.push_screen(screen)

    def action_measurements(self) -> None:
        """Look at a measurement table, or measure a folder of masks."""
        if not isinstance(self.screen, MeasurementsScreen):
            self.push_screen(MeasurementsScreen(results=self.workspace.root / RESULTS_FOLDER))

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
        bindings = screen.BINDINGS
        if self.project is not None:  # only the keys acting here: no class keys if binary
            classes = tuple(self.project.config.classes)
            stacks = uses_stack_keys(self.project)
            bindings = project_bindings(bindings, classes=classes, stacks=stacks)
        for binding in bindings:
            if not isinstance(binding, Binding) or binding.action in seen:
                continue
            seen.add(binding.action)
            title = binding.description or binding.action
            keys = binding.key_display or binding.key
            yield SystemCommand(title, f"key {keys}", partial(screen.run_action, binding.action))

    def on_resize(self, event: events.Resize) -> None:
        """A terminal that reports its size in pixels may have a new cell size (a new font)."""
        pixels = (event.pixel_size.width, event.pixel_size.height) if event.pixel_size else None
        self.graphics.resized(event.size.width, event.size.height, pixels)

    def _display(self, screen: Screen, renderable: RenderableType | None) -> None:
        """Write a frame, then the pictures of the cells it wrote over (true-pixel canvases)."""
        super()._display(screen, renderable)
        self.graphics.after_frame(renderable)

    async def on_unmount(self) -> None:
        """Close the backend client and release the project."""
        backend = self.backend
        if backend is not None:
            try:
                await asyncio.wait_for(backend.close(), BACKEND_CLOSE_TIMEOUT_S)
            except Exception as error:  # leaving must not fail
                log.warning("closing the backend: %s", error)
        if self.project is not None:
            self.project.close()
