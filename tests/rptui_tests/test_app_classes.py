"""Multi-class painting in the app: keys 1-9 choose the class, overlays draw class colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cluster.api import BACKGROUND, FOREGROUND
from cluster.simulate.synthetic_classes import CLASS_NAMES
from rptui.session.review import ReviewSession
from rptui.tui.app import RptuiApp
from rptui.tui.canvas.display_tone import quantise
from rptui.tui.canvas.palettes import DEFAULT_PALETTE
from rptui.tui.canvas.render import render_view
from rptui.tui.canvas.render_classes import rarest_per_block
from rptui.tui.canvas.viewport import Viewport
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.help import HelpScreen
from rptui.tui.widgets.status_line import StatusLine
from tests.rptui_tests.class_stack_helpers import make_class_workspace, open_class_project
from tests.rptui_tests.screen_helpers import make_workspace, open_app

ORANGE, SKY_BLUE, GREEN = (0xE6, 0x9F, 0x00), (0x56, 0xB4, 0xE9), (0x00, 0x9E, 0x73)
CLASS_PALETTE = DEFAULT_PALETTE.with_classes((ORANGE, SKY_BLUE, GREEN))


async def test_key_3_paints_the_third_class_in_its_colour(tmp_path: Path) -> None:
    workspace = make_class_workspace(tmp_path / "ws", stacks=1)
    app = RptuiApp(workspace, project=open_class_project(workspace), animate=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        canvas = screen.query_one(AnnotationCanvas)
        canvas.set_opacity(annotation=1.0)
        canvas.set_cursor(20, 20)
        await pilot.press("3", "space")
        assert screen.session.viewer.annotation.labels[20, 20] == 4  # class 3 is label 3 + 1
        status = screen.query_one(StatusLine).content  # the rich Text it shows
        assert str(status).endswith(f"{CLASS_NAMES[3]} r3")
        styles = [(str(status)[span.start : span.end], str(span.style)) for span in status.spans]
        assert styles == [(CLASS_NAMES[3], "bold #009e73")]  # grain: bluish green
        view = canvas.rendered_view()
        vy, vx = canvas.viewport.image_to_view(20, 20)
        green = quantise(np.array([[GREEN]], np.uint8), canvas.colour_bits)
        assert tuple(view[vy, vx]) == tuple(green[0, 0])
        await pilot.press("w", "q", "space")  # Q paints the chosen class again, not class 1
        assert screen.session.brush.value == 4
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert ("3", f"Class 3: {CLASS_NAMES[3]}") in app.screen.rows
        assert not any(keys == "4" for keys, _ in app.screen.rows)  # no fourth class


async def test_binary_project_key_2_paints_nothing_and_key_1_is_foreground(
    tmp_path: Path,
) -> None:
    workspace = make_workspace(tmp_path / "ws", count=2, height=32, width=32)
    app = open_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        session = screen.session
        canvas = screen.query_one(AnnotationCanvas)
        await pilot.press("w", "2")
        assert session.brush.value == BACKGROUND  # key 2 changed nothing
        canvas.set_cursor(4, 4)
        await pilot.press("space", "1")
        canvas.set_cursor(20, 20)
        await pilot.press("space")
        labels = session.viewer.annotation.labels
        assert labels[4, 4] == BACKGROUND and labels[20, 20] == FOREGROUND
        assert set(np.unique(labels)) == {0, BACKGROUND, FOREGROUND}
        assert "foreground r" in str(screen.query_one(StatusLine).render())


def test_x_marks_only_the_predicted_class_region_under_the_cursor(tmp_path: Path) -> None:
    session = ReviewSession(open_class_project(make_class_workspace(tmp_path / "ws", stacks=1)))
    seg = np.zeros(session.viewer.image.shape[:2], np.uint8)
    seg[5:15, 5:15] = 2  # root touching a pore: X on the root leaves the pore alone
    seg[5:15, 15:25] = 1
    session.viewer.segmentation = seg
    session.brush.mark_false_positive(8, 8)
    labels = session.viewer.annotation.labels
    assert (labels[5:15, 5:15] == BACKGROUND).all() and not labels[5:15, 15:25].any()
    session.brush.mark_false_positive(8, 20)
    assert (labels[5:15, 15:25] == BACKGROUND).all()


def test_zoomed_out_masks_keep_one_pixel_structures_and_never_mix_classes() -> None:
    mask = np.ones((64, 64), np.uint8)  # class 1 everywhere ...
    mask[:, 40] = 3  # ... crossed by a one-pixel line of class 3
    mask[:8, :8] = 2  # and a block of class 2
    reduced = rarest_per_block(mask, np.arange(0, 64, 8), np.arange(0, 64, 8))
    assert (reduced[:, 5] == 3).all()  # the thin line shows in every block it crosses
    assert reduced[0, 0] == 2 and (reduced[1:, :5] == 1).all()
    assert set(np.unique(reduced)) <= {1, 2, 3}  # no value that is in no block (1 | 2 = 3)
    ten_classes = np.full((64, 64), 9, np.uint8)  # the labels of a 10-class project
    ten_classes[30, 30] = 10
    reduced = rarest_per_block(ten_classes, np.arange(0, 64, 16), np.arange(0, 64, 16))
    assert reduced[1, 1] == 10 and (reduced[0] == 9).all()
    viewport = Viewport.fitted(64, 64, 8, 8)
    image = np.zeros((64, 64, 3), np.uint8)
    view = render_view(image, viewport, segmentation=mask, palette=CLASS_PALETTE, seg_opacity=1.0)
    assert tuple(view[3, 5]) == GREEN and tuple(view[3, 0]) == ORANGE
