"""The canvas in true pixels: what the app writes for Kitty and Sixel terminals, decoded.

Each test runs the app headless with a graphics path forced, catches every picture it
writes, decodes them as a graphics terminal would (:mod:`terminal_pictures`) and compares
the decoded pixels with the canvas's own render of image, overlays and cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from textual import events
from textual.geometry import Region
from textual.pilot import Pilot

from cluster.api import BACKGROUND, FOREGROUND
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.canvas import controls
from rptui.tui.canvas.display_tone import quantise_even
from rptui.tui.canvas.palettes import DEFAULT_PALETTE
from rptui.tui.canvas.render import render_layers, render_view
from rptui.tui.canvas.viewport import Viewport
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.graphics import sixel_picture
from rptui.tui.graphics.escapes import RESTORE_CURSOR, SAVE_CURSOR, SYNC_END, SYNC_START
from rptui.tui.graphics.hub import GraphicsHub
from rptui.tui.graphics.sixel import shown_colours
from rptui.tui.graphics.support import CellSize, GraphicsPath, GraphicsSupport
from rptui.tui.graphics.tmux import TmuxPane
from rptui.tui.screens.help import HelpScreen
from tests.rptui_tests.app_stubs import StubBackend, wait_for
from tests.rptui_tests.screen_helpers import make_demo_workspace
from tests.rptui_tests.terminal_pictures import PretendTerminal

SIZE = 96
QUIET_S = 0.1  # no new output for this long: the app has drawn
SETTLE_TRIES = 50
COLUMNS, ROWS = 100, 30
CELL = CellSize(6, 12)
MOVE_BYTES = 4_000  # a cursor move, at most, over a slow link
DAB_BYTES = 16_000  # a brush dab


class Recorded:
    """The app under test, what it wrote, and a pretend terminal to decode it."""

    def __init__(self, app: RptuiApp, pilot: Pilot[None], written: list[str], path: str) -> None:
        self.app, self.pilot, self.written, self.path = app, pilot, written, path
        self.terminal = PretendTerminal(COLUMNS, ROWS, (CELL.width, CELL.height))
        self.log = ""  # everything written so far
        self.writes: list[str] = []  # the same, write by write

    @property
    def canvas(self) -> AnnotationCanvas:
        return self.app.screen.query_one(AnnotationCanvas)

    async def settle(self) -> int:
        """Let the app draw until it has written nothing new for QUIET_S (a busy machine
        draws late); decode what it wrote since the last call; return its bytes."""
        await self.pilot.pause()
        seen = -1
        for _ in range(SETTLE_TRIES):
            await self.pilot.pause(QUIET_S)
            if len(self.written) == seen:
                break
            seen = len(self.written)
        data = "".join(self.written)
        self.writes += self.written
        self.written.clear()
        self.log += data
        self.terminal.feed(data)
        return len(data)

    def canvas_pixels(self) -> np.ndarray:
        """The decoded terminal pixels where the canvas is."""
        region = self.canvas.content_region
        width, height = CELL.width, CELL.height
        screen = self.terminal.screen()
        return screen[
            region.y * height : (region.y + region.height) * height,
            region.x * width : (region.x + region.width) * width,
        ]

    def expected(self) -> np.ndarray:
        """The canvas's render with its cursor, as the terminal should show it."""
        view = self.canvas.rendered_view()
        assert view is not None
        view = view.copy()
        for y, x, colour in self.canvas.cursor_pixels():
            view[y, x] = colour
        return shown_colours(view) if self.path == "sixel" else view


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_demo_workspace(tmp_path / "ws", count=3, size=SIZE)


def square_mask() -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[20:50, 30:60] = 1
    return mask


@asynccontextmanager
async def recorded(
    workspace: Workspace,
    path: GraphicsPath,
    tmux: TmuxPane | None = None,
    *,
    notifications: bool = False,
) -> AsyncIterator[Recorded]:
    written: list[str] = []
    support = GraphicsSupport(path, CELL, cell_measured=True, tmux=tmux)
    app = RptuiApp(
        workspace,
        project=workspace.open_project("demo"),
        backend_factory=lambda _: StubBackend(mask=square_mask()),
        animate=False,
        graphics=GraphicsHub(support, write=written.append),
    )
    async with app.run_test(size=(COLUMNS, ROWS), notifications=notifications) as pilot:
        run = Recorded(app, pilot, written, path)
        await wait_for(pilot, lambda: run.canvas._segmentation is not None)
        await run.settle()
        yield run


@pytest.mark.parametrize("path", ["kitty", "sixel"])
async def test_the_terminal_shows_image_overlays_and_cursor_pixel_for_pixel(
    workspace: Workspace, path: GraphicsPath
) -> None:
    async with recorded(workspace, path) as run:
        canvas = run.canvas
        view_h, view_w = canvas.viewport.view_h, canvas.viewport.view_w
        assert (view_h, view_w) == (
            canvas.size.height * CELL.height,
            canvas.size.width * CELL.width,
        )
        assert canvas.viewport.scale < 1  # a 96-px image magnified: more pixels than cells
        assert np.array_equal(run.canvas_pixels(), run.expected())

        y, x = canvas.cursor_image_position
        before = run.canvas_pixels().copy()
        await run.pilot.press("space")  # a dab
        assert 0 < await run.settle() < DAB_BYTES
        assert canvas.labels[y, x] == FOREGROUND
        assert np.array_equal(run.canvas_pixels(), run.expected())
        assert not np.array_equal(run.canvas_pixels(), before)

        await run.pilot.press("right", "down")  # cursor moves: the old place mended
        assert 0 < await run.settle() < 2 * MOVE_BYTES
        assert np.array_equal(run.canvas_pixels(), run.expected())

        await run.pilot.press("s")  # segmentation hidden: only what changed is sent
        await run.settle()
        assert np.array_equal(run.canvas_pixels(), run.expected())

        await run.pilot.press("i")  # the image hidden: the overlays over the blank colour
        await run.settle()
        assert np.array_equal(run.canvas_pixels(), run.expected())


async def test_kitty_sends_the_photo_once_per_view_and_moves_the_cursor_by_placement(
    workspace: Workspace,
) -> None:
    async with recorded(workspace, "kitty") as run:
        commands = run.terminal.kitty_commands
        images = set(run.terminal.images)
        await run.pilot.press("left")
        moved = await run.settle()
        assert moved < 300  # a placement, not pixels
        assert set(run.terminal.images) == images
        assert run.terminal.kitty_commands == commands + 1

        await run.pilot.press("plus")  # a new view: new images, the old ones deleted
        await run.settle()
        assert np.array_equal(run.canvas_pixels(), run.expected())
        assert len(run.terminal.images) == 4  # background, photo, overlay, cursor
        assert images.isdisjoint(run.terminal.images)


async def test_kitty_sends_a_new_mask_as_an_overlay_over_the_photo_it_holds(
    workspace: Workspace,
) -> None:
    async with recorded(workspace, "kitty") as run:
        whole_view = len(run.log)
        images = run.terminal.images
        photo = max(images, key=lambda image: images[image].shape[0] * images[image].shape[1])
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[10:85, 5:90] = 1  # a new mask, larger than the first
        run.canvas.set_segmentation(mask)
        sent = await run.settle()
        assert 0 < sent < whole_view / 4  # the overlay, not the photo again
        assert photo in run.terminal.images
        assert np.array_equal(run.canvas_pixels(), run.expected())

        await run.pilot.press("space", "right", "space")  # dabs: small patches over both
        assert await run.settle() < 2 * DAB_BYTES
        assert np.array_equal(run.canvas_pixels(), run.expected())
        run.canvas.set_segmentation(None)  # the mask gone: the patches go with the overlay
        await run.settle()
        assert np.array_equal(run.canvas_pixels(), run.expected())
        assert photo in run.terminal.images
        assert len(run.terminal.images) == 4  # background, photo, overlay (the dabs), cursor


@pytest.mark.parametrize("path", ["kitty", "sixel"])
async def test_every_update_is_one_synchronized_write_that_keeps_the_text_cursor(
    workspace: Workspace, path: GraphicsPath
) -> None:
    async with recorded(workspace, path) as run:
        await run.pilot.press("space", "right", "plus", "s")
        await run.settle()
        assert len(run.writes) >= 4
        for write in run.writes:  # the terminal shows each at once: nothing flickers
            assert write.startswith(SYNC_START + SAVE_CURSOR), write[:20]
            assert write.endswith(RESTORE_CURSOR + SYNC_END), write[-20:]
            assert write.count(SYNC_START) == 1


@pytest.mark.parametrize("path", ["kitty", "sixel"])
async def test_no_picture_stays_over_another_screen(
    workspace: Workspace, path: GraphicsPath
) -> None:
    async with recorded(workspace, path) as run:
        await run.pilot.press("question_mark")
        await run.settle()
        assert isinstance(run.app.screen, HelpScreen)
        assert run.terminal.placements == {}  # Kitty: taken off; Sixel: the text covers it
        await run.pilot.press("escape")
        await run.settle()
        canvas = run.canvas
        if path == "sixel":  # the text covered it: sent again, whole
            assert run.terminal.sixel_images >= 2
        assert np.array_equal(run.canvas_pixels(), run.expected())
        assert canvas.cursor_image_position is not None
    if path == "kitty":  # the app quit: no image left in the terminal
        run.terminal.feed("".join(run.written))
        assert run.terminal.images == {} and run.terminal.placements == {}


async def test_sixel_never_draws_over_a_notification(workspace: Workspace) -> None:
    async with recorded(workspace, "sixel", notifications=True) as run:
        run.app.notify("a better model arrived", timeout=30)
        await run.settle()
        run.terminal = PretendTerminal(COLUMNS, ROWS, (CELL.width, CELL.height))  # fresh
        await run.pilot.press("right")
        await run.pilot.press("shift+right")  # a pan: the whole view again
        await run.settle()
        toast = run.app.screen.query_one("Toast").region
        assert toast.overlaps(run.canvas.content_region)
        drawn = run.terminal.sixels
        assert drawn is not None
        under = drawn[
            toast.y * CELL.height : (toast.y + toast.height) * CELL.height,
            toast.x * CELL.width : (toast.x + toast.width) * CELL.width,
        ]
        assert (under == -1).all()
        assert (drawn >= 0).any()


async def test_pictures_pass_through_tmux_to_the_pane_in_the_terminal(
    workspace: Workspace,
) -> None:
    pane = TmuxPane(top=3, left=5, _known=True)
    async with recorded(workspace, "kitty", tmux=pane) as run:
        await run.pilot.press("space")
        await run.settle()
        region = run.canvas.content_region
        terminal = PretendTerminal(COLUMNS + pane.left, ROWS + pane.top, (CELL.width, CELL.height))
        terminal.feed(run.log)
        screen = terminal.screen()
        top, left = (region.y + pane.top) * CELL.height, (region.x + pane.left) * CELL.width
        shown = screen[
            top : top + region.height * CELL.height, left : left + region.width * CELL.width
        ]
        assert np.array_equal(shown, run.expected())


async def test_a_click_paints_the_image_pixel_under_the_pointer(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(controls, "pointer_in_pixels", lambda app: True)
    async with recorded(workspace, "kitty") as run:
        canvas = run.canvas
        await run.pilot.press("w")  # the background brush, one pixel wide
        run.app.screen.session.brush.set_radius(0)
        # a pointer three fifths into a cell: the pixel there, not the cell's middle
        column, line = 20.6, 7.25
        vy, vx = int(line * CELL.height), int(column * CELL.width)
        target = canvas.viewport.view_to_image(vy, vx)
        middle = canvas.viewport.view_to_image(int(7.5 * CELL.height), int(20.5 * CELL.width))
        assert target != middle
        for event in (events.MouseDown, events.MouseUp):
            canvas.post_message(event(canvas, column, line, 0, 0, 1, False, False, False))
        await run.settle()
        assert canvas.cursor_image_position == target
        assert canvas.labels[target] != 0 and canvas.labels[middle] == 0


async def test_sixel_sends_its_images_again_after_a_full_repaint_without_encoding(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with recorded(workspace, "sixel") as run:
        await run.pilot.press("space", "right")
        await run.settle()
        sent_so_far = run.log
        encoded: list[int] = []
        real_encode = sixel_picture.sixel.encode
        monkeypatch.setattr(
            sixel_picture.sixel,
            "encode",
            lambda indices, palette: encoded.append(1) or real_encode(indices, palette),
        )
        run.terminal = PretendTerminal(COLUMNS, ROWS, (CELL.width, CELL.height))  # erased
        run.canvas.after_frame([Region(0, 0, COLUMNS, ROWS)])  # Textual repainted it all
        await run.settle()
        assert encoded == []
        assert np.array_equal(run.canvas_pixels(), run.expected())
        assert len(run.log) - len(sent_so_far) <= len(sent_so_far)


def test_a_new_font_size_reported_in_pixels_changes_the_cell_size() -> None:
    hub = GraphicsHub(GraphicsSupport("kitty", CellSize(10, 20)))
    hub.resized(100, 30, (900, 540))
    assert hub.support.cell == CellSize(9, 18) and hub.support.cell_measured
    hub.resized(100, 30, None)  # the terminal did not say: kept
    assert hub.support.cell == CellSize(9, 18)
    text = GraphicsHub()
    text.resized(100, 30, (900, 540))
    assert not text.support.true_pixels


@pytest.mark.parametrize("classes", [False, True])
@pytest.mark.parametrize("view_size", [(80, 120), (20, 30)])  # magnified, reduced
def test_the_overlay_over_the_photo_is_the_view_with_its_blends(
    classes: bool, view_size: tuple[int, int]
) -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    palette = DEFAULT_PALETTE
    if classes:  # three classes: masks hold 0..3, labels 0 (none), 1 (background), 2..4
        palette = palette.with_classes(((255, 0, 0), (0, 0, 255), (255, 255, 0)))
        segmentation = rng.integers(0, 4, (40, 50)).astype(np.uint8)
        labels = rng.integers(0, 5, (40, 50)).astype(np.uint8)
    else:
        segmentation = (rng.random((40, 50)) > 0.6).astype(np.uint8)
        labels = rng.choice([0, BACKGROUND, FOREGROUND], (40, 50)).astype(np.uint8)
    viewport = Viewport.fitted(40, 50, *view_size)
    view = render_view(image, viewport, segmentation=segmentation, labels=labels, palette=palette)
    layers = render_layers(
        image, viewport, segmentation=segmentation, labels=labels, palette=palette
    )
    assert np.abs(layers.composite().astype(int) - view.astype(int)).max() <= 1
    photo = render_view(image, viewport, palette=palette)
    assert np.array_equal(layers.photo, photo)
    assert (layers.overlay[..., 3] > 0).any() and (layers.overlay[..., 3] < 255).any()


@pytest.mark.parametrize("bits", range(1, 9))
def test_the_kitty_photo_keeps_every_value_within_half_a_level(bits: int) -> None:
    values = np.arange(256, dtype=np.uint8)
    shown = quantise_even(values, bits)
    assert len(np.unique(shown)) == 1 << bits
    assert np.abs(shown.astype(int) - values.astype(int)).max() <= (1 << (8 - bits)) // 2
