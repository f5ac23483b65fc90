"""The annotate screen says the same about models as every other place, from the moment a
project opens; its status line shows the zoom, hidden layers and what undo and redo did,
within the terminal's width; the segment-folder list follows new models and F1s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.widgets import SelectionList

from cluster.api import BACKGROUND, FOREGROUND, TrainerState, TrainerStatus
from rptui.session.training import append_epoch_log
from rptui.store.annotation_files import to_png_bytes
from rptui.store.workspace import Workspace
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.annotate import AnnotateScreen
from rptui.tui.screens.segment_folder import SegmentFolderScreen
from rptui.tui.widgets import model_list
from tests.rptui_tests.app_stubs import StubBackend, demo_app, quick_polls, status_text
from tests.rptui_tests.model_helpers import add_model, epoch_record
from tests.rptui_tests.screen_helpers import (
    PROJECT,
    make_workspace,
    press_for_screen,
    static_text,
    wait_for,
)

HEIGHT, WIDTH = 120, 160
NARROW, WIDE = (80, 24), (160, 45)
WAIT_S = 10.0
STATUS_PADDING = 2  # the status line's padding, one cell each side


class LiveBackend(StubBackend):
    """A backend whose trainer reports ``live``: at first a fresh trainer, sent nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.live = TrainerStatus(TrainerState.STOPPED)

    async def status(self) -> TrainerStatus:
        return self.live


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=3, height=HEIGHT, width=WIDTH)


def _trained_before(workspace: Workspace) -> None:
    """Two annotations, models #1 (random weights) and #3 (F1 0.908), four epochs logged."""
    with workspace.open_project(PROJECT) as project:
        for index in range(2):
            labels = np.full((HEIGHT, WIDTH), BACKGROUND, np.uint8)
            labels[:, index::7] = FOREGROUND
            project.save_annotation_png(project.stem(index), None, to_png_bytes(labels))
        add_model(project, 1, None)
        add_model(project, 3, 0.908)
        append_epoch_log(project, [epoch_record(n, improved=n <= 2) for n in (1, 2, 3)])
        append_epoch_log(project, [epoch_record(4, improved=False)])


@pytest.mark.parametrize("size", [NARROW, WIDE])
async def test_zoom_hidden_layers_and_undo_are_on_a_status_line_that_fits(
    workspace: Workspace, size: tuple[int, int]
) -> None:
    wide = size == WIDE
    lines = []
    app = demo_app(workspace, project=PROJECT)  # offline: the line also says so
    async with app.run_test(size=size) as pilot:
        canvas = app.screen.query_one(AnnotationCanvas)
        fitted = canvas.zoom_percent
        await pilot.press("plus", "plus")
        await pilot.pause()
        assert canvas.zoom_percent > fitted
        lines.append(status_text(app))
        assert f"{canvas.zoom_percent:.0f}%" in lines[-1]
        await pilot.press("s", "i")
        await pilot.pause()
        lines.append(status_text(app))
        assert ("hidden: image, segmentation" if wide else "hid is") in lines[-1]
        await pilot.press("d", "right", "right", "d", "z")
        lines.append(status_text(app))
        assert ("undo: stroke (0 left)" if wide else "undo (0)") in lines[-1]
        await pilot.press("shift+z")
        lines.append(status_text(app))
        assert ("redo: stroke (0 left)" if wide else "redo (0)") in lines[-1]
        await pilot.press("w", "space", "q")  # a new edit (background here): the note goes
        lines.append(status_text(app))
        assert "redo" not in lines[-1]
        await pilot.press("s", "i", "f")  # every layer shown again, the whole image
        await pilot.pause()
        lines.append(status_text(app))
        assert canvas.zoom_percent == fitted
        assert f"{fitted:.0f}%" in lines[-1] and "hid" not in lines[-1]
    for line in lines:
        assert len(line) <= size[0] - STATUS_PADDING and not line.endswith("…")
        assert line.startswith(("1 / 3", "1/3")) and "offline" in line
        assert line.endswith("foreground r3")
    if wide:  # everything in full
        assert all(line.startswith("1 / 3 · 0 annotated · no model yet · epoch 0 (0 since best)")
                   and "zoom " in line for line in lines)  # fmt: skip


async def test_a_reopened_project_says_the_same_everywhere_then_a_rescored_f1(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_polls(monkeypatch)
    monkeypatch.setattr(model_list, "REFRESH_S", 0.1)
    _trained_before(workspace)
    backend = LiveBackend()
    app = demo_app(workspace, backend, project=PROJECT)
    async with app.run_test(size=WIDE) as pilot:
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        await wait_for(pilot, lambda: screen.link.status is not None, WAIT_S)
        await pilot.pause()
        line, panel = status_text(app), static_text(screen, "#training-state")
        assert "model #3 F1 0.91 · epoch 4 (2 since best)" in line
        assert "model #3 F1 0.908" in panel and "train 1 · val 1" in panel
        assert "epoch 4, 2 since best" in panel and "training: stopped" in panel

        # the trainer takes the project on and scores #3 again on a new validation set
        backend.live = TrainerStatus(
            TrainerState.TRAINING, epoch=1, best_f1=0.854, saved_f1=0.908, model_version=3,
            n_train=1, n_val=2,
        )  # fmt: skip
        await wait_for(pilot, lambda: "when saved" in status_text(app), WAIT_S)
        assert "model #3 F1 0.85 (0.91 when saved) · epoch 1" in status_text(app)
        panel = static_text(screen, "#training-state")
        assert "model #3 F1 0.854 (0.908 when saved)" in panel and "val 2" in panel

        folder = await press_for_screen(pilot, "b", SegmentFolderScreen)
        models = folder.query_one("#models", SelectionList)
        await wait_for(pilot, lambda: models.option_count == 2, WAIT_S)
        rows = [str(models.get_option_at_index(i).prompt) for i in range(2)]
        assert rows[0].startswith("model #3 F1 0.854 (0.908 when saved)")
        assert rows[1].startswith("model #1 (start)")

        newest = add_model(screen.session.project, 4, 0.93)  # training keeps a better one
        backend.live = TrainerStatus(
            TrainerState.TRAINING, epoch=2, best_f1=0.93, saved_f1=0.93, model_version=4
        )
        await wait_for(pilot, lambda: models.option_count == 3, WAIT_S)
        assert str(models.get_option_at_index(0).prompt).startswith("model #4 F1 0.930 · best  ")

        def second_row() -> str:  # #3 was scored again only while it was the best
            return str(models.get_option_at_index(1).prompt)

        await wait_for(pilot, lambda: second_row().startswith("model #3 F1 0.908  "), WAIT_S)
        assert models.selected == [newest]  # the tick left on the newest follows it


async def test_a_fresh_project_calls_its_random_start_model_a_start_without_f1(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_polls(monkeypatch)
    backend = LiveBackend()
    app = demo_app(workspace, backend, project=PROJECT)
    async with app.run_test(size=WIDE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.link.status is not None, WAIT_S)
        await pilot.pause()
        assert "no model yet · epoch 0" in status_text(app)
        assert "no model yet" in static_text(screen, "#training-state")
        await pilot.press("t")
        await wait_for(pilot, lambda: backend.state is TrainerState.TRAINING, WAIT_S)
        # training starts from random weights, scored before the first epoch
        backend.live = TrainerStatus(
            TrainerState.TRAINING, best_f1=0.277, model_version=1, n_train=1, n_val=1
        )

        def panel_says() -> str:
            return static_text(screen, "#training-state")

        await wait_for(pilot, lambda: "training: training" in panel_says(), WAIT_S)
        await pilot.pause()
        line, panel = status_text(app), static_text(screen, "#training-state")
        assert "model #1 (start)" in line and "model #1 (start)" in panel
        assert "0.2" not in line + panel
        assert [info.number for info in screen.session.project.models()] == [1]
