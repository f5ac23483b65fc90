"""The annotate/review screen: the canvas, the keys that paint, and the review flow.

The screen draws a :class:`~rptui.session.review.ReviewSession` and forwards keys to it;
everything that talks to the backend is the session's
:class:`~rptui.session.link.backend_link.BackendLink`, whose events the screen draws.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer

from cluster.api import describe_model
from rptui.session.link import events
from rptui.session.link.backend_link import BackendLink
from rptui.session.link.masks import read_neighbours
from rptui.session.order import ORDER_NAMES
from rptui.session.review import ReviewSession
from rptui.session.status import brush_status, status_parts, view_status
from rptui.session.undo_note import UndoNote
from rptui.store.annotation import BINARY_CLASSES
from rptui.store.classes import format_colour
from rptui.store.paths import WorkspaceError
from rptui.tui.canvas.palettes import DEFAULT_PALETTE, PALETTES
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.annotate_keys import ANNOTATE_BINDINGS, help_rows
from rptui.tui.screens.annotate_paint import PaintActions
from rptui.tui.screens.goto import PromptScreen
from rptui.tui.screens.help import HelpScreen
from rptui.tui.widgets.score_histogram import ScoreHistogram
from rptui.tui.widgets.status_line import StatusLine
from rptui.tui.widgets.training_panel import TrainingPanel

log = logging.getLogger(__name__)

OFFLINE_NOTE = "annotation still works"


class AnnotateScreen(PaintActions, Screen[None]):
    """Shows one image at a time; the user paints corrections and accepts or skips."""

    BINDINGS: ClassVar[list[BindingType]] = ANNOTATE_BINDINGS

    def __init__(self, session: ReviewSession, link: BackendLink, *, animate: bool = True) -> None:
        super().__init__()
        self.session = session
        self.link = link
        self.spinner = animate  # the status line's spinner turns (not in snapshots)
        self.undo_note = UndoNote()

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """Canvas and training panel side by side, the status line and the footer below."""
        with Horizontal(id="main"):
            yield AnnotationCanvas(id="canvas")
            yield TrainingPanel(id="training")
        yield StatusLine(animate=self.spinner, id="status")
        yield ScoreHistogram(id="scores")
        yield Footer()

    @property
    def canvas(self) -> AnnotationCanvas:
        """The annotation canvas."""
        return self.query_one(AnnotationCanvas)

    def on_mount(self) -> None:
        """Show where the user left off, listen to the link and start its poll."""
        self._apply_view_settings()
        self.canvas.focus()
        self.link.listener = self._on_link
        self._show_current()
        panel = self.query_one(TrainingPanel)
        if self.link.offline:
            panel.show_offline(OFFLINE_NOTE)
        else:
            panel.record(self.link.shown_status, len(self.session.project.config.splits))
        self.link.start()

    async def on_unmount(self) -> None:
        """Stop listening, end the link's background work, keep the brush sizes."""
        self.link.listener = None
        try:
            self.session.save_settings()
        except (OSError, WorkspaceError) as error:
            log.warning("could not save settings: %s", error)
        await self.link.stop()

    def _apply_view_settings(self) -> None:
        settings = self.session.project.config.settings
        self.canvas.set_opacity(segmentation=settings.overlay_opacity)
        palette = PALETTES.get(settings.palette, DEFAULT_PALETTE)
        if self.session.viewer.n_classes > BINARY_CLASSES:
            palette = palette.with_classes(tuple(self.session.project.class_colours().values()))
        self.canvas.set_palette(palette)

    def apply_settings(self) -> None:
        """Use the project's settings at once: opacity, palette, brush sizes, pre-segment N."""
        self._apply_view_settings()
        self._show_current(keep_view=True)

    # -- what the link tells ----------------------------------------------------------------
    def _on_link(self, event: events.LinkEvent) -> None:
        """Draw an event of the backend link (the screen listens while mounted)."""
        try:
            self._draw(event)
        except NoMatches:  # the screen is closing: its widgets went first
            log.debug("not drawn on a closing screen: %s", event)

    def _draw(self, event: events.LinkEvent) -> None:
        panel = self.query_one(TrainingPanel)
        match event:
            case events.StatusChanged(status=status, new_model=new_model):
                panel.record(self.link.shown_status, len(self.session.project.config.splits))
                if new_model:
                    model = describe_model(status.model_version, status.best_f1, status.saved_f1)
                    self.notify(f"a better model arrived: {model}")
                self.refresh_status()
            case events.WentOffline(reason=reason, first=first):
                if first:
                    self.notify(f"offline: {reason}; {OFFLINE_NOTE}", severity="warning")
                panel.show_offline(reason[:60])
                self.refresh_status(waiting=False)
            case events.BackendAttached(backend=backend):
                if backend is None:
                    panel.show_offline(OFFLINE_NOTE)
                self._show_current(keep_view=True)
            case events.MaskArrived(shown=shown):
                if shown:
                    self.canvas.set_segmentation(self.session.viewer.segmentation)
                self.refresh_status(waiting=False if shown else None)
                self._show_scores()
            case events.NoMask(message=message):
                self.notify(message, severity="warning")
                self.refresh_status(waiting=False)
            case events.Notice(text=text, warning=warning):
                self.notify(text, severity="warning" if warning else "information")

    # -- showing images ---------------------------------------------------------------------
    def _show_current(self, *, keep_view: bool = False, same_item: bool = False) -> None:
        """Draw the item on screen and ask the link for its mask and those to come."""
        view, brush = self.session.viewer, self.session.brush
        canvas = self.canvas
        if same_item:  # another slice of the stack on screen: keep zoom and cursor
            self._end_pen()
            canvas.swap_image(
                view.image, segmentation=view.segmentation, labels_source=view.annotation
            )
        elif not keep_view:
            self._end_pen()
            canvas.set_image(
                view.image, segmentation=view.segmentation, labels_source=view.annotation
            )
            if view.problem is not None:
                self.notify(f"not shown: {view.problem}", severity="error")
        canvas.set_brush(radius=brush.radius, value=brush.value, pen_down=brush.pen_down)
        self.refresh_status(waiting=self.link.online and view.segmentation is None)
        self._show_scores()
        if view.is_stack:  # the slices PageUp/PageDown show next, read without blocking keys
            self.run_worker(read_neighbours(view), group="neighbours", exclusive=True)
        self.link.masks.refresh()

    def refresh_status(self, *, waiting: bool | None = None) -> None:
        """Redraw the status line (the session, the view, the last undo and the brush) and
        the panel's line naming the model that drew the mask on screen."""
        link, brush, canvas = self.link, self.session.brush, self.canvas
        status, view = link.shown_status, self.session.viewer
        parts = status_parts(self.session, status, offline=link.offline)
        parts += view_status(canvas.zoom_percent, canvas.hidden_layers)
        note = self.undo_note.part(view.annotation)
        if note is not None:
            parts.append(note)
        parts.append(brush_status(brush))
        colour = brush.colour
        accent = None if colour is None else (brush.name, f"bold {format_colour(colour)}")
        self.query_one(StatusLine).show_status(parts, waiting=waiting, accent=accent)
        shown = view.segmentation_version if view.segmentation is not None else None
        self.query_one(TrainingPanel).show_mask_model(shown, status.model_version)

    @on(AnnotationCanvas.ViewChanged)
    def _view_changed(self) -> None:
        self.refresh_status()

    def _show_scores(self) -> None:
        scores = self.session.order.scores
        score = scores.get(self.session.viewer.name)
        current = score.value if score is not None else None
        self.query_one(ScoreHistogram).show_scores(scores.values(), current=current)

    # -- painting (the keys: annotate_paint) ------------------------------------------------
    @on(AnnotationCanvas.CursorMoved)
    def _cursor_moved(self, event: AnnotationCanvas.CursorMoved) -> None:
        if event.pen_down:
            self._paint_done(self.session.brush.pen_moved(event.previous, event.position))

    @on(AnnotationCanvas.PaintRequested)
    def _paint_requested(self, event: AnnotationCanvas.PaintRequested) -> None:
        brush = self.session.brush
        points = event.points
        box = brush.paint_point(*points[0]) if len(points) == 1 else brush.paint_line(points)
        self._paint_done(box)

    def action_slice(self, step: int) -> None:
        """The previous or next slice of a stack (each slice keeps its own labels)."""
        view = self.session.viewer
        if not view.is_stack:
            self.notify("not a stack: PageUp/PageDown move through a stack's slices")
            return
        before = view.z
        view.show_slice(view.z + step)
        if view.z != before:
            self._show_current(same_item=True)

    # -- review flow ------------------------------------------------------------------------
    def action_accept(self) -> None:
        """Save the corrections (if any), send them to the trainer and move on."""
        self._end_pen()
        s = self.session
        if s.project.read_only and s.viewer.annotation.dirty:
            self.notify("read-only project: corrections are not saved", severity="warning")
        if s.held_by is not None and s.viewer.annotation.dirty:
            self.notify(f"{s.held_by.describe()} holds this image: not saved", severity="warning")
        try:
            items = s.accept()
        except WorkspaceError as error:  # project.json unreadable now: say so, keep the work
            self.notify(str(error), severity="error")
            return
        if s.saver.last_correction is not None:
            self.query_one(TrainingPanel).record_correction(s.saver.last_correction)
        self.link.send_soon(items)
        self._show_current()

    def action_skip(self) -> None:
        """Next image without saving."""
        try:
            self.session.skip()
        except WorkspaceError as error:
            self.notify(str(error), severity="error")
            return
        self._show_current()

    def action_previous(self) -> None:
        """The image before."""
        try:
            self.session.previous()
        except WorkspaceError as error:
            self.notify(str(error), severity="error")
            return
        self._show_current()

    def action_goto(self) -> None:
        """Ask for an image number or name and go there."""

        def chosen(query: str | None) -> None:
            if not query:
                return
            try:
                self.session.goto(query)
            except WorkspaceError as error:
                self.notify(str(error), severity="error")
                return
            self._show_current()

        count = len(self.session.project)
        self.app.push_screen(
            PromptScreen(f"Go to image (1–{count} or name)", placeholder="number"), chosen
        )

    def action_help(self) -> None:
        """All keys."""
        self.app.push_screen(HelpScreen(help_rows(self.app, self.session)))

    def action_training(self) -> None:
        """Start or stop training."""
        self.link.toggle_training()

    def action_resegment(self) -> None:
        """Ask for the image on screen again (after a better model arrived)."""
        if not self.link.masks.refresh():
            self.notify("offline: no segmenter", severity="warning")
            return
        self.refresh_status(waiting=True)

    def action_toggle_order(self) -> None:
        """Serve images in the fixed order, or the most uncertain next."""
        mode = self.session.toggle_order()
        self.notify(f"order: {ORDER_NAMES[mode]}")
        self._show_current(keep_view=True)
