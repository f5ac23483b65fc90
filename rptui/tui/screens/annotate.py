"""The annotate/review screen: the canvas, the keys that paint, and the review flow."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.widgets import Footer

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    UNLABELLED,
    Backend,
    Segmentation,
    SegmentationRequest,
    TrainingConfig,
)
from cluster.io.images import ImageReadError
from rptui.session.order import ORDER_NAMES
from rptui.session.review import ReviewSession
from rptui.session.serve_order import SegmentationTimeout, await_segmentation
from rptui.session.stack import uses_stack_keys
from rptui.store.annotation import BINARY_CLASSES
from rptui.store.classes import format_colour
from rptui.store.paths import WorkspaceError
from rptui.tui.canvas.render import DEFAULT_PALETTE, PALETTES
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.backend_link import CALL_TIMEOUT_S, BackendLink
from rptui.tui.screens.goto import PromptScreen
from rptui.tui.screens.help import (
    HelpScreen,
    binding_rows,
    class_rows,
    project_bindings,
    screen_keys,
)
from rptui.tui.widgets.score_histogram import ScoreHistogram
from rptui.tui.widgets.status_line import StatusLine
from rptui.tui.widgets.training_panel import TrainingPanel

log = logging.getLogger(__name__)

CLASS_KEYS = 9  # keys 1-9 choose the class to paint
CLASS_BINDINGS = [
    Binding(str(n), f"choose_class({n})", f"Class {n}", show=False, id=f"annotate.class_{n}")
    for n in range(1, CLASS_KEYS + 1)
]
SEGMENT_GIVE_UP_S = 300.0  # no mask for the image on screen this long: say so (U asks again)
SYNC_INTERVAL_S = 2.0


class AnnotateScreen(BackendLink):
    """Shows one image at a time; the user paints corrections and accepts or skips."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", f"brush({FOREGROUND})", "Foreground", id="annotate.brush_foreground"),
        Binding("w", f"brush({BACKGROUND})", "Background", id="annotate.brush_background"),
        Binding("e", f"brush({UNLABELLED})", "Eraser", id="annotate.brush_eraser"),
        Binding("z", "undo", "Undo", id="annotate.undo"),
        Binding("shift+z", "redo", "Redo", key_display="Z", id="annotate.redo"),
        Binding("space", "point", "Point", show=False, id="annotate.point"),
        Binding("d", "pen", "Pen down/up", show=False, id="annotate.pen"),
        Binding(
            "left_square_bracket",
            "brush_size(-1)",
            "Smaller brush",
            key_display="[",
            show=False,
            id="annotate.brush_smaller",
        ),
        Binding(
            "right_square_bracket",
            "brush_size(1)",
            "Larger brush",
            key_display="]",
            show=False,
            id="annotate.brush_larger",
        ),
        Binding("enter", "accept", "Accept", id="annotate.accept"),
        Binding("n", "skip", "Skip", id="annotate.skip"),
        Binding("p", "previous", "Previous", show=False, id="annotate.previous"),
        Binding("g", "goto", "Go to", show=False, id="annotate.goto"),
        Binding("x", "false_positive", "Not a root", show=False, id="annotate.false_positive"),
        Binding("r", "box", "Box fill", show=False, id="annotate.box_fill"),
        Binding("t", "training", "Train", id="annotate.training"),
        Binding("u", "resegment", "Re-segment", show=False, id="annotate.resegment"),
        Binding("v", "toggle_order", "Serve order", show=False, id="annotate.order"),
        Binding("question_mark", "help", "Keys", key_display="?", id="annotate.help"),
        Binding("pageup", "slice(-1)", "Previous slice", show=False, id="annotate.slice_previous"),
        Binding("pagedown", "slice(1)", "Next slice", show=False, id="annotate.slice_next"),
        *CLASS_BINDINGS,
    ]

    def __init__(
        self,
        session: ReviewSession,
        backend: Backend | None,
        *,
        training_config: TrainingConfig | None = None,
        animate: bool = True,
        start_training: bool = False,
    ) -> None:
        super().__init__(
            session, backend, training_config=training_config, start_training=start_training
        )
        self.animate = animate
        self.pen_down = False

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        """Canvas and training panel side by side, the status line and the footer below."""
        with Horizontal(id="main"):
            yield AnnotationCanvas(id="canvas")
            yield TrainingPanel(id="training")
        yield StatusLine(animate=self.animate, id="status")
        yield ScoreHistogram(id="scores")
        yield Footer()

    @property
    def canvas(self) -> AnnotationCanvas:
        """The annotation canvas."""
        return self.query_one(AnnotationCanvas)

    def on_mount(self) -> None:
        """Show where the user left off and start the trainer poll."""
        self._apply_view_settings()
        self.canvas.focus()
        self._show_current()
        if self.offline:
            self.query_one(TrainingPanel).show_offline("annotation still works")
        self.set_interval(SYNC_INTERVAL_S, self._poll)

    def _apply_view_settings(self) -> None:
        settings = self.session.project.config.settings
        self.canvas.set_opacity(segmentation=float(settings.get("overlay_opacity", 0.5)))
        palette = PALETTES.get(str(settings.get("palette", DEFAULT_PALETTE.name)), DEFAULT_PALETTE)
        if self.session.n_classes > BINARY_CLASSES:
            palette = palette.with_classes(tuple(self.session.project.class_colours().values()))
        self.canvas.set_palette(palette)

    def apply_settings(self) -> None:
        """Use the project's settings at once: opacity, palette, brush sizes, pre-segment N."""
        self._apply_view_settings()
        self._show_current(keep_view=True)

    # -- showing images ---------------------------------------------------------------------
    def _show_current(self, *, keep_view: bool = False, same_item: bool = False) -> None:
        s = self.session
        canvas = self.canvas
        if same_item:  # another slice of the stack on screen: keep zoom and cursor
            self._end_pen()
            canvas.swap_image(s.image, segmentation=s.segmentation, labels_source=s.annotation)
        elif not keep_view:
            self._end_pen()
            canvas.set_image(s.image, segmentation=s.segmentation, labels_source=s.annotation)
            if s.problem is not None:
                self.notify(f"not shown: {s.problem}", severity="error")
        canvas.set_brush(radius=s.brush_radius, value=s.brush_value, pen_down=self.pen_down)
        waiting = self.backend is not None and not self.offline and s.segmentation is None
        self.refresh_status(waiting=waiting)
        self._show_scores()
        if s.is_stack:  # the slices PageUp/PageDown show next, read without blocking keys
            self.run_worker(self._read_neighbours(), group="neighbours", exclusive=True)
        if self.backend is not None and not self.offline:
            self.run_worker(self._presegment(), group="presegment", exclusive=True)

    async def _read_neighbours(self) -> None:
        s = self.session
        index, z = s.index, s.z
        for near in (z + 1, z - 1):
            if 0 <= near < s.depth and s.index == index:
                await self._read(index, near)

    def refresh_status(self, *, waiting: bool | None = None) -> None:
        """Redraw the status line."""
        s = self.session
        text = s.status_line(self.status, model_version=self.model_version, offline=self.offline)
        brush = f"{s.brush_name} r{s.brush_radius}"
        if self.pen_down:
            brush += " pen down"
        if s.box_mark is not None:
            brush += " box mark"
        colour = s.paint_colour
        accent = None if colour is None else (s.brush_name, f"bold {format_colour(colour)}")
        self.query_one(StatusLine).show_status(f"{text} · {brush}", waiting=waiting, accent=accent)

    async def _presegment(self) -> None:
        """Ask for the image on screen and those to come; show each newer mask of this one
        until one by the newest model held arrives (same path in both order modes)."""
        backend, s = self.backend, self.session
        if backend is None:
            return
        shown = s.name
        plan = s.presegment_plan()
        current: SegmentationRequest | None = None
        try:
            for name in plan.cancels:
                await self._call(backend.cancel_segmentation(name))
            for index, z, priority in plan.slices:
                on_screen = (index, z) == (s.index, s.z)
                image = s.image if on_screen else await self._read(index, z)
                if image is None:  # an upcoming image that cannot be read: shown when reached
                    continue
                request = SegmentationRequest(s.request_name(index, z), image, priority)
                await self._call(backend.request_segmentation(request))
                current = request if on_screen else current
            if current is not None:
                await await_segmentation(
                    backend,
                    current,
                    give_up_s=SEGMENT_GIVE_UP_S,
                    want_version=lambda: self.model_version,
                    still_wanted=lambda: shown == s.name,
                    on_result=self._receive,
                    call=self._call,
                    call_timeout_s=CALL_TIMEOUT_S,
                )
        except SegmentationTimeout as error:
            self.notify(f"{error}; U asks again", severity="warning")
            self.refresh_status(waiting=False)
        except Exception:  # _call reported it and went offline
            return

    async def _read(self, index: int, z: int) -> Any:
        """Slice ``z`` of item ``index``, read in a thread and kept for when it is shown."""
        s = self.session
        cached = s.cached_image(index, z)
        if cached is not None:
            return cached
        try:
            image = await asyncio.to_thread(s.read_slice, index, z)
        except (ImageReadError, OSError) as error:
            log.warning("not pre-segmented: %s", error)
            return None
        s.keep_image(index, z, image)
        return image

    def _receive(self, result: Segmentation) -> None:
        try:
            canvas = self.canvas
        except NoMatches:  # the app closed while the result was on its way
            return
        if self.session.receive_segmentation(result):
            canvas.set_segmentation(self.session.segmentation)
            self.refresh_status(waiting=False)
        self._show_scores()

    def _show_scores(self) -> None:
        s = self.session
        score = s.scores.get(s.name)
        current = score.value if score is not None else None
        self.query_one(ScoreHistogram).show_scores(s.scores.values(), current=current)

    async def _collect_scores(self) -> None:
        """Take in the results asked for only to score images, then ask for more."""
        backend, s = self.backend, self.session
        if backend is None:
            return
        received = 0
        try:
            for name in s.scoring_names():
                result = await self._call(backend.segmentation(name, 0.0))
                if result is not None:
                    self._receive(result)
                    received += 1
        except Exception:  # _call reported it and went offline
            return
        if received:
            self.refresh_status()
            self.run_worker(self._presegment(), group="presegment", exclusive=True)

    # -- painting ---------------------------------------------------------------------------
    def _paint_done(self, box: Any) -> None:
        if box is not None:
            self.canvas.mark_dirty(box)

    @on(AnnotationCanvas.CursorMoved)
    def _cursor_moved(self, event: AnnotationCanvas.CursorMoved) -> None:
        if event.pen_down and self.pen_down:
            self._paint_done(self.session.paint_line([event.previous, event.position]))

    @on(AnnotationCanvas.PaintRequested)
    def _paint_requested(self, event: AnnotationCanvas.PaintRequested) -> None:
        s = self.session
        points = event.points
        box = s.paint_point(*points[0]) if len(points) == 1 else s.paint_line(points)
        self._paint_done(box)

    def action_brush(self, value: int) -> None:
        """Choose the foreground (the chosen class), background or eraser brush."""
        self.session.use_brush(value)
        s = self.session
        self.canvas.set_brush(radius=s.brush_radius, value=s.brush_value)
        self.refresh_status()

    def action_choose_class(self, number: int) -> None:
        """Paint class ``number`` (keys 1-9); in a binary project only 1 (foreground)."""
        s = self.session
        if not s.choose_class(number):
            if s.n_classes == BINARY_CLASSES:
                self.notify(f"key {number}: a binary project has one class (1 = foreground)")
            else:
                self.notify(f"key {number}: this project has classes 1-{s.n_classes - 1}")
            return
        self.canvas.set_brush(radius=s.brush_radius, value=s.brush_value)
        self.refresh_status()

    def action_slice(self, step: int) -> None:
        """The previous or next slice of a stack (each slice keeps its own labels)."""
        s = self.session
        if not s.is_stack:
            self.notify("not a stack: PageUp/PageDown move through a stack's slices")
            return
        before = s.z
        s.show_slice(s.z + step)
        if s.z != before:
            self._show_current(same_item=True)

    def action_brush_size(self, step: int) -> None:
        """Make the current brush smaller or larger."""
        s = self.session
        s.set_brush_radius(s.brush_radius + step)
        self.canvas.set_brush(radius=s.brush_radius)
        self.refresh_status()

    def action_point(self) -> None:
        """Paint one dab at the cursor."""
        self._paint_done(self.session.paint_point(*self.canvas.cursor_image_position))

    def action_pen(self) -> None:
        """Put the pen down (cursor moves paint) or lift it."""
        if self.pen_down:
            self._end_pen()
        else:
            self.pen_down = True
            self.session.annotation.begin_stroke()
            self._paint_done(self.session.paint_point(*self.canvas.cursor_image_position))
        self.canvas.set_brush(pen_down=self.pen_down)
        self.refresh_status()

    def _end_pen(self) -> None:
        if self.pen_down:
            self.pen_down = False
            self.session.annotation.end_stroke()
            self.canvas.set_brush(pen_down=False)

    def action_undo(self) -> None:
        """Undo the last edit (a whole stroke at once)."""
        self._end_pen()
        self._paint_done(self.session.annotation.undo())

    def action_redo(self) -> None:
        """Redo what was undone."""
        self._end_pen()
        self._paint_done(self.session.annotation.redo())

    def action_false_positive(self) -> None:
        """Label the predicted region under the cursor background."""
        box = self.session.mark_false_positive(*self.canvas.cursor_image_position)
        if box is None:
            self.notify("no predicted region under the cursor")
        self._paint_done(box)

    def action_box(self) -> None:
        """Mark a corner; the second press fills the box with the current brush."""
        self._paint_done(self.session.box_mark_or_fill(*self.canvas.cursor_image_position))
        self.refresh_status()

    # -- review flow ------------------------------------------------------------------------
    def action_accept(self) -> None:
        """Save the corrections (if any), send them to the trainer and move on."""
        self._end_pen()
        s = self.session
        if s.read_only and s.annotation.dirty:
            self.notify("read-only project: corrections are not saved", severity="warning")
        items = s.accept_all()
        if s.last_correction is not None:
            self.query_one(TrainingPanel).record_correction(s.last_correction)
        if items and self.backend is not None and not self.offline:
            backend = self.backend
            for item in items:
                self.run_worker(
                    self._call(backend.add_annotation(item)), group="send", exit_on_error=False
                )
        self._show_current()

    def action_skip(self) -> None:
        """Next image without saving."""
        self.session.skip()
        self._show_current()

    def action_previous(self) -> None:
        """The image before."""
        self.session.previous()
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

        self.app.push_screen(
            PromptScreen(f"Go to image (1–{len(self.session)} or name)", placeholder="number"),
            chosen,
        )

    def action_help(self) -> None:
        """All keys."""
        keymap = dict(self.app._keymap)
        s = self.session
        bindings = [*self.BINDINGS, *AnnotationCanvas.BINDINGS, *screen_keys(self.app)]
        stacks = s.is_stack or uses_stack_keys(s.project)
        shown = project_bindings(bindings, classes=s.classes, stacks=stacks)
        rows = class_rows(binding_rows(shown, keymap), s.classes)
        self.app.push_screen(HelpScreen(rows))

    def action_resegment(self) -> None:
        """Ask for the image on screen again (after a better model arrived)."""
        if self.backend is None or self.offline:
            self.notify("offline: no segmenter", severity="warning")
            return
        self.refresh_status(waiting=True)
        self.run_worker(self._presegment(), group="presegment", exclusive=True)

    def action_toggle_order(self) -> None:
        """Serve images in the fixed order, or the most uncertain next."""
        mode = self.session.toggle_order()
        self.notify(f"order: {ORDER_NAMES[mode]}")
        self._show_current(keep_view=True)

    def on_unmount(self) -> None:
        """Keep the brush sizes and other settings."""
        try:
            self.session.save_settings()
        except (OSError, WorkspaceError) as error:
            log.warning("could not save settings: %s", error)
