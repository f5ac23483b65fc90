"""The annotation canvas widget, driven by keys and the mouse in a headless app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.strip import Strip

from cluster.api import FOREGROUND
from rptui.tui.canvas.display_tone import quantise
from rptui.tui.canvas.palettes import DEFAULT_PALETTE
from rptui.tui.canvas.widget import AnnotationCanvas

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
IMAGE_H, IMAGE_W = 500, 700


class CountingCanvas(AnnotationCanvas):
    """Records which lines Textual asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.lines_drawn: list[int] = []

    def render_line(self, y: int) -> Strip:
        self.lines_drawn.append(y)
        return super().render_line(y)


class CanvasApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.moves: list[AnnotationCanvas.CursorMoved] = []
        self.paints: list[AnnotationCanvas.PaintRequested] = []

    def compose(self) -> ComposeResult:
        yield CountingCanvas()

    def on_annotation_canvas_cursor_moved(self, message: AnnotationCanvas.CursorMoved) -> None:
        self.moves.append(message)

    def on_annotation_canvas_paint_requested(
        self, message: AnnotationCanvas.PaintRequested
    ) -> None:
        self.paints.append(message)


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A grey image; segmentation on the left third; foreground labels in the top band."""
    image = np.full((IMAGE_H, IMAGE_W, 3), 100, np.uint8)
    segmentation = np.zeros((IMAGE_H, IMAGE_W), np.uint8)
    segmentation[:, : IMAGE_W // 3] = 255
    labels = np.zeros((IMAGE_H, IMAGE_W), np.uint8)
    labels[: IMAGE_H // 4, IMAGE_W // 2 :] = FOREGROUND
    return image, segmentation, labels


def _cell(strip: Strip, x: int) -> tuple[tuple[int, int, int] | None, tuple[int, int, int]]:
    """(upper, lower) pixel colours drawn in cell ``x`` of a line."""
    position = 0
    for segment in strip:
        if position + len(segment.text) > x:
            style = segment.style
            assert style is not None and style.bgcolor is not None
            lower = style.bgcolor.get_truecolor()
            upper = style.color.get_truecolor() if style.color is not None else lower
            return tuple(upper), tuple(lower)  # type: ignore[return-value]
        position += len(segment.text)
    raise IndexError(x)


async def _started(pilot_app: CanvasApp, pilot: Pilot, **kwargs: Any) -> CountingCanvas:
    canvas = pilot_app.query_one(CountingCanvas)
    image, segmentation, labels = _scene()
    canvas.set_image(
        kwargs.get("image", image),
        segmentation=kwargs.get("segmentation", segmentation),
        labels_source=kwargs.get("labels", labels),
    )
    await pilot.pause()
    canvas.lines_drawn.clear()
    pilot_app.moves.clear()
    return canvas


async def test_keys_move_the_cursor_by_one_view_step() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        step = canvas.cursor_step
        assert step == round(canvas.viewport.scale) > 1  # zoomed out: steps of a view pixel
        y, x = canvas.cursor_image_position
        await pilot.press("right", "l")
        assert canvas.cursor_image_position == (y, x + 2 * step)
        await pilot.press("down", "j", "up")
        assert canvas.cursor_image_position == (y + step, x + 2 * step)
        await pilot.press("h", "k", "left")
        assert canvas.cursor_image_position == (y, x)
        assert [m.position for m in app.moves][-1] == (y, x)
        assert all(not m.pen_down for m in app.moves)

        for _ in range(6):
            await pilot.press("plus")
        assert canvas.viewport.scale < 1 and canvas.cursor_step == 1  # pixel-precise
        await pilot.press("right")
        assert canvas.cursor_image_position == (y, x + 1)


async def test_cursor_stops_at_the_image_edge_and_reports_pen_state() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        canvas.set_brush(pen_down=True)
        await pilot.press("left", "h")
        for _ in range(60):
            canvas.move_cursor(0, -1)
        await pilot.pause()
        assert canvas.cursor_image_position[1] == 0
        assert app.moves and all(m.pen_down for m in app.moves)
        assert app.moves[-1].position == canvas.cursor_image_position


async def test_zoom_and_fit_keys() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        fit_scale = canvas.viewport.scale
        await pilot.press("plus")
        assert canvas.viewport.scale == pytest.approx(fit_scale / 2)
        await pilot.press("plus", "minus")
        assert canvas.viewport.scale == pytest.approx(fit_scale / 2)
        await pilot.press("minus", "minus")  # no farther out than the whole image
        assert canvas.viewport.scale == pytest.approx(fit_scale)
        await pilot.press("plus", "plus", "plus", "shift+right", "f")
        assert canvas.viewport.scale == pytest.approx(fit_scale)
        view = canvas.rendered_view()
        outside = quantise(np.array(DEFAULT_PALETTE.outside, np.uint8), canvas.colour_bits)
        inside = ~np.all(view == outside, axis=-1)
        # the whole image is on screen: every image column is drawn somewhere
        assert inside.sum(axis=1).max() == pytest.approx(IMAGE_W / fit_scale, abs=1)


async def test_toggles_hide_overlays_in_the_drawn_lines() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        vp = canvas.viewport
        seg_line, seg_x = vp.image_to_view(IMAGE_H * 3 // 4, IMAGE_W // 6)
        lab_line, lab_x = vp.image_to_view(IMAGE_H // 8, IMAGE_W * 3 // 4)
        plain_line, plain_x = vp.image_to_view(IMAGE_H * 3 // 4, IMAGE_W * 3 // 4)
        seg_line, lab_line, plain_line = seg_line // 2, lab_line // 2, plain_line // 2

        def colours() -> tuple:
            return (
                _cell(canvas.render_line(seg_line), seg_x),
                _cell(canvas.render_line(lab_line), lab_x),
                _cell(canvas.render_line(plain_line), plain_x),
            )

        seg, lab, plain = colours()
        assert seg != plain and lab != plain
        red, green, _ = lab[1]
        assert red > green  # foreground annotation draws red
        await pilot.press("s")
        seg, lab, plain = colours()
        assert seg == plain and lab != plain
        await pilot.press("a")
        seg, lab, plain = colours()
        assert seg == plain and lab == plain
        await pilot.press("i")
        assert colours()[2][1] == DEFAULT_PALETTE.blank
        await pilot.press("i", "a", "s")
        seg, lab, plain = colours()
        assert seg != plain and lab != plain


async def test_cursor_move_redraws_only_the_cursor_lines() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        for _ in range(3):
            await pilot.press("plus")  # zoomed in: the brush ring spans a few lines
        canvas.set_brush(radius=6)
        await pilot.pause()
        before = canvas._cursor_lines()
        canvas.lines_drawn.clear()
        await pilot.press("down")
        await pilot.pause()
        after = canvas._cursor_lines()
        drawn = set(canvas.lines_drawn)
        assert len(before) > 1
        assert drawn == before | after
        assert len(drawn) < canvas.size.height // 2


async def test_mark_dirty_redraws_the_painted_rows() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        labels = np.zeros((IMAGE_H, IMAGE_W), np.uint8)
        canvas = await _started(app, pilot, labels=labels)
        box = (300, 400, 330, 460)  # y0, x0, y1, x1
        labels[300:330, 400:460] = FOREGROUND
        canvas.mark_dirty(box)
        await pilot.pause()
        line0, col0, line1, col1 = canvas.view_box_for(box)
        assert set(canvas.lines_drawn) == set(range(line0, line1))
        _, lower = _cell(canvas.render_line((line0 + line1) // 2), (col0 + col1) // 2)
        assert lower[0] > lower[1]  # now drawn red


async def test_painting_and_undo_with_an_annotation_show_up() -> None:
    annotation_module = pytest.importorskip("rptui.store.annotation")
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        annotation = annotation_module.Annotation.blank(IMAGE_H, IMAGE_W)
        canvas = await _started(app, pilot, segmentation=None, labels=annotation)
        await pilot.press("plus", "plus")
        y, x = canvas.cursor_image_position
        vy, vx = canvas.viewport.image_to_view(y, x + 20)  # beside the cursor
        before = _cell(canvas.render_line(vy // 2), vx)
        canvas.lines_drawn.clear()
        canvas.mark_dirty(annotation.paint_point(y, x + 20, radius=6, value=FOREGROUND))
        await pilot.pause()
        painted = _cell(canvas.render_line(vy // 2), vx)
        assert painted != before and painted[1][0] > painted[1][1]  # red
        assert len(set(canvas.lines_drawn)) <= 4  # a 13-pixel dab: ~5 view pixels high
        canvas.mark_dirty(annotation.undo())
        await pilot.pause()
        assert _cell(canvas.render_line(vy // 2), vx) == before


async def test_brush_ring_previews_brush_size_when_zoomed_in() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot, segmentation=None, labels=None)
        for _ in range(5):
            await pilot.press("plus")
        canvas.set_brush(radius=3, value=FOREGROUND)
        await pilot.pause()
        lines = sorted(canvas._cursor_lines())
        radius_view = 3 / canvas.viewport.scale
        assert len(lines) >= radius_view  # 2*radius view pixels = radius lines
        cy, cx = canvas.viewport.image_to_view(*canvas.cursor_image_position)
        ring_line = (cy + round(radius_view)) // 2  # bottom of the ring
        cells = {_cell(canvas.render_line(ring_line), cx)}
        assert any(DEFAULT_PALETTE.foreground in cell for cell in cells)


async def test_pan_moves_the_view_and_the_cursor_together() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        await pilot.press("plus", "plus", "plus")
        where = canvas.viewport.image_to_view(*canvas.cursor_image_position)
        origin_x = canvas.viewport.origin_x
        x = canvas.cursor_image_position[1]
        await pilot.press("shift+right")
        assert canvas.viewport.origin_x > origin_x
        assert canvas.cursor_image_position[1] > x
        after = canvas.viewport.image_to_view(*canvas.cursor_image_position)
        assert abs(after[1] - where[1]) <= 1 and after[0] == where[0]
        assert not app.moves[-1].pen_down  # a pan never paints


async def test_cursor_leaving_the_view_scrolls_it() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        for _ in range(6):
            await pilot.press("plus")
        origin_x = canvas.viewport.origin_x
        for _ in range(40):
            canvas.move_cursor(0, 1)
        await pilot.press("right")
        vy, vx = canvas.viewport.image_to_view(*canvas.cursor_image_position)
        assert 0 <= vx < canvas.viewport.view_w and 0 <= vy < canvas.viewport.view_h
        assert canvas.viewport.origin_x > origin_x


async def test_resize_keeps_the_image_fitted() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        for width, height in [(160, 48), (80, 24)]:
            await pilot.resize_terminal(width, height)
            await pilot.pause()
            vp = canvas.viewport
            assert (vp.view_h, vp.view_w) == (2 * canvas.size.height, canvas.size.width)
            assert canvas.rendered_view().shape == (vp.view_h, vp.view_w, 3)
            for corner in [(0, 0), (IMAGE_H - 1, IMAGE_W - 1)]:
                vy, vx = vp.image_to_view(*corner)
                assert 0 <= vy < vp.view_h and 0 <= vx < vp.view_w
            strips = [canvas.render_line(y) for y in range(canvas.size.height)]
            assert {s.cell_length for s in strips} == {canvas.size.width}


async def test_click_moves_the_cursor_and_asks_to_paint() -> None:
    app = CanvasApp()
    async with app.run_test(size=(80, 24)) as pilot:
        canvas = await _started(app, pilot)
        await pilot.click(CountingCanvas, offset=(40, 5))
        await pilot.pause()
        expected = canvas.viewport.view_to_image(10, 40)
        assert canvas.cursor_image_position == expected
        assert app.paints and app.paints[-1].points == [expected]


@pytest.mark.skipif(not (DATA / "switchgrass").is_dir(), reason="shared data not present")
async def test_full_frame_of_a_real_image_stays_small() -> None:
    from PIL import Image

    path = sorted((DATA / "switchgrass" / "images").glob("*.png"))[0]
    image = np.asarray(Image.open(path).convert("RGB"))
    mask = np.asarray(Image.open(DATA / "switchgrass" / "masks" / path.name))
    app = CanvasApp()
    async with app.run_test(size=(160, 45)) as pilot:
        canvas = await _started(
            app, pilot, image=image, segmentation=mask, labels=np.zeros(mask.shape, np.uint8)
        )
        console = Console(color_system="truecolor", force_terminal=True, width=160)
        frame = sum(
            len(canvas.render_line(y).render(console).encode()) for y in range(canvas.size.height)
        )
        assert frame <= 300_000  # bytes to the terminal for a full redraw
