"""The training panel names the model that drew the mask on screen, which need not be
the newest: a mask saved by an older model, then the segmenter's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cluster.io.images import encode_png
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.widgets.training_panel import LINE_CHARS, mask_model_text
from tests.rptui_tests.app_stubs import STUB_VERSION, StubBackend, wait_for
from tests.rptui_tests.screen_helpers import make_demo_workspace, static_text

SIZE = 48
SAVED_VERSION = 2  # the model that drew the first image's saved mask


def square_mask() -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[8:20, 8:20] = 1
    return mask


async def test_the_panel_names_the_model_of_the_mask_on_screen(tmp_path: Path) -> None:
    workspace: Workspace = make_demo_workspace(tmp_path / "ws", count=3, size=SIZE)
    project = workspace.open_project("demo")
    project.save_segmentation(project.stem(0), encode_png(square_mask() * 255), SAVED_VERSION)
    backend = StubBackend()  # no masks yet; its trainer holds model STUB_VERSION
    backend.model_version = STUB_VERSION
    app = RptuiApp(workspace, project=project, backend_factory=lambda _: backend, animate=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)

        def mask_line() -> str:
            return static_text(screen, "#mask-model")

        await wait_for(pilot, lambda: f"model #{STUB_VERSION}" in static_text(screen, "#status"))
        await wait_for(pilot, lambda: mask_line() == f"mask: model #{SAVED_VERSION} (older)")
        assert f"model #{STUB_VERSION}" in static_text(screen, "#training-state")
        assert screen.query_one("#mask-model").region.height == 1  # one line of the panel

        await pilot.press("n")  # an image with no mask saved
        await wait_for(pilot, lambda: mask_line() == "mask: none")

        backend.mask = square_mask()
        await wait_for(pilot, lambda: mask_line() == f"mask: model #{STUB_VERSION}")
        assert screen.session.viewer.segmentation_version == STUB_VERSION


def test_the_mask_line_fits_the_panel_for_long_lived_projects() -> None:
    for version, newest in ((9, 9), (99, 100), (1234, 1300), (123456, 123457)):
        text = mask_model_text(version, newest)
        assert f"#{version}" in text and ("older" in text) == (newest > version)
        assert len(text) <= LINE_CHARS
