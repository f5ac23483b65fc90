"""The backend link on its own (in-process backend), and the bench asking as the app asks."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from cluster.api import Segmentation, TrainingConfig
from cluster.backends.local import LocalBackend
from cluster.io.model_files import load_model_file
from rptui.bench.options import BenchOptions
from rptui.bench.project_setup import BenchProject
from rptui.bench.protocol import BenchProtocol
from rptui.session.link.backend_link import RUNNING, BackendLink
from rptui.session.link.events import LinkEvent, MaskArrived, Notice, WentOffline
from rptui.session.review import ReviewSession
from rptui.session.training import save_model
from rptui.tui.app import RptuiApp
from tests.rptui_tests.app_stubs import LosesHead, StubBackend, quick_polls
from tests.rptui_tests.app_stubs import wait_for as wait_in_app
from tests.rptui_tests.class_stack_helpers import SIDE, make_class_workspace, open_class_project
from tests.rptui_tests.screen_helpers import PROJECT, make_workspace

SIZE = 52  # one 124-px tile (52 px out) an image
TILE = 124
CONFIG = TrainingConfig(tile_size=TILE, batch_size=2, epoch_tiles=4, patience=10_000, seed=0)
WAIT_S = 60.0


async def until(check: Callable[[], bool | Awaitable[bool]], seconds: float = WAIT_S) -> None:
    """Let the event loop run until ``check()`` holds; AssertionError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if await result if isinstance(result, Awaitable) else result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


class LosableBackend(LosesHead, LocalBackend):
    """The in-process backend, whose status calls fail once ``gone`` is set (a lost head)."""


async def test_offline_then_back_sends_every_annotation_and_training_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_polls(monkeypatch)
    project = make_workspace(tmp_path / "ws", count=4, height=SIZE, width=SIZE).open_project(
        PROJECT
    )
    session = ReviewSession(project)
    for _ in range(2):  # one validation and one training image
        session.brush.paint_point(20, 20)
        session.accept()
    first = LosableBackend(segment_tile_size=TILE, tta=False)
    second = LocalBackend(segment_tile_size=TILE, tta=False)
    link = BackendLink(
        session, first, training_config=CONFIG, reconnect=lambda: second, follow=False
    )
    events: list[LinkEvent] = []
    link.listener = events.append
    try:
        await link.start_training()
        link.start()
        await until(lambda: link.status is not None and link.status.state in RUNNING)
        first.gone = True
        await until(lambda: link.offline)
        session.brush.paint_point(30, 30)
        link.send_soon(session.accept())  # offline: saved in the project, not sent
        assert len(project.config.splits) == 3

        await until(lambda: link.online and link.backend is second)

        async def resumed_with_all_three() -> bool:
            status = await second.status()
            return status.state in RUNNING and status.n_train + status.n_val == 3

        await until(resumed_with_all_three)
        went = [event for event in events if isinstance(event, WentOffline)]
        assert [event.first for event in went] == [True]  # said once, however many polls
        assert any(isinstance(e, Notice) and e.text.startswith("back online") for e in events)
    finally:
        await link.stop()
        await first.close()
        await second.close()
        project.close()


async def test_an_older_models_mask_is_shown_then_swapped_for_the_newest(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws", count=3, height=SIZE, width=SIZE, with_model=True)
    project = workspace.open_project(PROJECT)
    newest = project.newest_model()
    assert newest is not None
    older = load_model_file(newest.path)
    newer = dataclasses.replace(older, version=2)
    save_model(project, newer)  # the project knows model 2; the segmenter holds model 1
    session = ReviewSession(project)
    backend = LocalBackend(start_model=older, segment_tile_size=TILE, tta=False)
    link = BackendLink(session, backend, training_config=CONFIG)
    assert link.model_version == 2
    shown: list[int | None] = []

    def listen(event: LinkEvent) -> None:
        if isinstance(event, MaskArrived) and event.shown:
            shown.append(session.viewer.segmentation_version)

    link.listener = listen
    try:
        waiting = asyncio.create_task(link.masks.presegment())
        await until(lambda: shown == [1])  # the best there is, at once
        await backend.start_training(CONFIG, newer)  # the trainer hands model 2 on
        result = await asyncio.wait_for(waiting, WAIT_S)
        assert result is not None and result.model_version == 2
        assert shown == [1, 2] and session.viewer.segmentation_version == 2
        info = project.segmentation_info(session.viewer.stem)
        assert info is not None and info.model_version == 2
        # a late result of the older model never brings its mask back
        mask = session.viewer.segmentation
        assert mask is not None
        late = Segmentation(session.viewer.name, mask, mask.astype(np.float16), 1)
        assert not session.presegmenter.receive(late)
        assert session.viewer.segmentation_version == 2
    finally:
        await link.stop()
        await backend.close()
        project.close()


async def test_the_bench_and_the_app_ask_for_the_same_masks(tmp_path: Path) -> None:
    """Same project state (a stack, its second slice), same requests, same cancels."""
    mask = np.zeros((SIDE, SIDE), np.uint8)
    bench_backend, app_backend = StubBackend(mask), StubBackend(mask)
    bench_workspace = make_class_workspace(tmp_path / "bench")
    project = open_class_project(bench_workspace)
    options = BenchOptions(images=tmp_path, masks=tmp_path, out=tmp_path / "out")
    bench = BenchProject(bench_workspace, project, {})
    protocol = BenchProtocol(bench, bench_backend, options, config=CONFIG)
    try:
        await protocol.fetch_segmentation()
        protocol.session.viewer.show_slice(1)
        await protocol.fetch_segmentation()
    finally:
        await protocol.link.stop()
        project.close()

    def asked(backend: StubBackend) -> list[tuple[str, int, tuple[int, ...]]]:
        return [(r.name, r.priority, r.image.shape) for r in backend.requests]

    app_workspace = make_class_workspace(tmp_path / "app")
    app = RptuiApp(
        app_workspace,
        project=open_class_project(app_workspace),
        backend_factory=lambda _: app_backend,
        animate=False,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        half = len(bench_backend.requests) // 2
        await wait_in_app(pilot, lambda: len(app_backend.requests) >= half)
        await pilot.press("pagedown")
        await wait_in_app(pilot, lambda: len(app_backend.requests) >= 2 * half)
        await pilot.pause(0.3)
    assert asked(app_backend) == asked(bench_backend)
    assert app_backend.cancelled == bench_backend.cancelled
    slices = [name for name, _, _ in asked(bench_backend)]
    assert any(name.endswith(".z0003") for name in slices)  # the neighbouring slices too


async def test_a_stop_that_meets_a_finished_call_still_stops_the_task(tmp_path: Path) -> None:
    """Closing a screen cancels the link's loop of mask calls; a call ending at that very
    moment must not swallow the cancel (the app would then never quit)."""
    workspace = make_workspace(tmp_path / "ws", count=2, height=SIZE, width=SIZE)
    project = workspace.open_project(PROJECT)
    link = BackendLink(ReviewSession(project), StubBackend(), training_config=CONFIG)
    calls = 0

    async def answered_as_cancelled() -> int:
        nonlocal calls
        calls += 1
        waiting.cancel()  # the stop comes while the call is finishing
        return calls

    async def ask_until_stopped() -> None:
        for _ in range(3):  # like the wait for a mask, which only a cancel ends
            await link.call(answered_as_cancelled(), 5.0)

    waiting = asyncio.ensure_future(ask_until_stopped())
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 5.0)
    assert calls == 1
    project.close()
