"""Pilot tests of the training panel and status line: idle polls redraw nothing, and the
panel fits a small terminal."""

from __future__ import annotations

import pytest
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from cluster.api import TrainerState
from rptui.store.workspace import Workspace
from rptui.tui.widgets.status_line import StatusLine
from rptui.tui.widgets.training_panel import TrainingPanel
from tests.rptui_tests.app_stubs import (
    StubBackend,
    demo_app,
    square_mask,
    status_text,
    wait_for,
)
from tests.rptui_tests.screen_helpers import APP_SIZE


def count_refreshes(monkeypatch: pytest.MonkeyPatch, widgets: list[Widget]) -> list[Widget]:
    """Record every ``refresh`` of the given widgets (or their children) from now on."""
    calls: list[Widget] = []
    original = Widget.refresh

    def counting(self: Widget, *args: object, **kwargs: object) -> Widget:
        if any(self is w or w in self.ancestors for w in widgets):
            calls.append(self)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Widget, "refresh", counting)
    return calls


async def test_idle_polls_redraw_nothing_and_changes_redraw(
    demo_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = StubBackend(square_mask())
    app = demo_app(demo_workspace, backend)
    async with app.run_test(size=APP_SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.session.viewer.segmentation is not None)
        await screen.link.sync_once()
        await pilot.pause()
        panel = screen.query_one(TrainingPanel)
        status_line = screen.query_one(StatusLine)
        calls = count_refreshes(monkeypatch, [panel, status_line])
        for _ in range(5):
            await screen.link.sync_once()
        await pilot.pause()
        assert calls == []
        assert len(panel.f1_history) == 1

        backend.state = TrainerState.TRAINING
        backend.epoch = 6
        await screen.link.sync_once()
        await pilot.pause()
        assert "epoch 6" in status_text(app)
        assert status_line in calls
        assert any(w is not status_line for w in calls)
        assert "training: training" in str(panel.query_one("#training-state", Static).render())
        assert len(panel.f1_history) == 2


async def test_training_panel_fits_a_small_terminal(demo_workspace: Workspace) -> None:
    backend = StubBackend(square_mask())
    backend.state = TrainerState.TRAINING
    app = demo_app(demo_workspace, backend)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        panel = screen.query_one(TrainingPanel)
        await wait_for(pilot, lambda: panel.last_status is not None)
        await pilot.pause()
        state = panel.query_one("#training-state", Static)
        assert state.region.height == 4  # no label wraps
        bottom = panel.query_one("#seconds-plot", Sparkline).region
        assert bottom.height >= 1
        assert bottom.bottom <= panel.content_region.bottom
