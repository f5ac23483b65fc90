"""Two annotators' apps on one project: different images, one trainer, both accepts kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster.api import TrainerState
from rptui.session.review import ReviewSession
from rptui.session.status import status_line
from rptui.store.annotator import Annotator
from rptui.store.project_config import PROJECT_FILE_NAME
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp
from rptui.tui.screens.annotate import AnnotateScreen
from tests.rptui_tests.app_stubs import StubBackend, quick_polls, wait_for
from tests.rptui_tests.screen_helpers import make_demo_workspace

APP_SIZE = (100, 30)
N_IMAGES = 6


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_demo_workspace(tmp_path / "ws", count=N_IMAGES, size=48)
    return tmp_path / "ws"


def annotator_app(root: Path, name: str, trainer: StubBackend) -> RptuiApp:
    """``name``'s app on the demo project, its backend being the project's one trainer."""
    workspace = Workspace(root, annotator=Annotator.current(name))
    return RptuiApp(
        workspace,
        project=workspace.open_project("demo"),
        backend_factory=lambda _: trainer,
        animate=False,
    )


def session_of(app: RptuiApp) -> ReviewSession:
    screen = app.screen
    assert isinstance(screen, AnnotateScreen)
    return screen.session


def shown(app: RptuiApp) -> str:
    return session_of(app).viewer.stem


def link_version(app: RptuiApp) -> int:
    return -1 if app.link is None else app.link.model_version


async def test_two_apps_are_served_different_images_and_both_accepts_land(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick_polls(monkeypatch)
    trainer = StubBackend()
    ana, ben = annotator_app(root, "Ana", trainer), annotator_app(root, "Ben", trainer)
    async with ana.run_test(size=APP_SIZE) as ana_pilot, ben.run_test(size=APP_SIZE) as ben_pilot:
        assert not session_of(ana).project.read_only
        assert not session_of(ben).project.read_only
        first_ana, first_ben = shown(ana), shown(ben)
        assert first_ana != first_ben  # Ben opens where Ana is not
        await ana_pilot.press("space", "enter")
        await ben_pilot.press("space", "enter")
        await wait_for(ana_pilot, lambda: len(trainer.added) == 2)
        assert {item.name for item in trainer.added} == {first_ana, first_ben}
        seen = {first_ana, first_ben}
        for _ in range(2):  # moving on, each keeps getting images the other does not hold
            assert shown(ana) != shown(ben)
            assert {shown(ana), shown(ben)}.isdisjoint(seen)
            seen |= {shown(ana), shown(ben)}
            await ana_pilot.press("n")
            await ben_pilot.press("n")
        # The one trainer makes a model: both apps follow it and ask again for their image.
        trainer.state, trainer.model_version = TrainerState.TRAINING, 3
        asked = len(trainer.requests)
        await wait_for(ana_pilot, lambda: link_version(ana) == 3 and link_version(ben) == 3)
        await wait_for(
            ana_pilot,
            lambda: {r.name for r in trainer.requests[asked:]} >= {shown(ana), shown(ben)},
        )
    on_disk = json.loads((root / "projects" / "demo" / PROJECT_FILE_NAME).read_text())
    assert set(on_disk["splits"]) == {first_ana, first_ben}
    by = {stem: records[0]["name"] for stem, records in on_disk["annotated_by"].items()}
    assert by == {first_ana: "Ana", first_ben: "Ben"}
    assert not list((root / "projects" / "demo" / ".rptui" / "leases").glob("*.lease"))


async def test_an_image_held_by_another_app_is_shown_but_not_saved(root: Path) -> None:
    trainer = StubBackend()
    ana, ben = annotator_app(root, "Ana", trainer), annotator_app(root, "Ben", trainer)
    async with ana.run_test(size=APP_SIZE) as ana_pilot, ben.run_test(size=APP_SIZE) as ben_pilot:
        held = shown(ana)
        session_of(ben).goto(held)
        assert shown(ben) == held  # looking is allowed
        status = status_line(session_of(ben), None)
        assert "Ana (" in status and "is annotating this image: not saved" in status
        await ben_pilot.press("space", "enter")
        assert session_of(ben).project.split_of(held) is None
        await ana_pilot.press("space", "enter")
        await wait_for(ana_pilot, lambda: session_of(ana).project.split_of(held) == "val")


async def test_a_project_json_spoilt_meanwhile_is_named_and_never_overwritten(root: Path) -> None:
    app = annotator_app(root, "Ana", StubBackend())
    config_path = root / "projects" / "demo" / PROJECT_FILE_NAME
    async with app.run_test(size=APP_SIZE) as pilot:
        before = shown(app)
        config_path.write_text("{ spoilt by hand")
        await pilot.press("space", "enter")
        await pilot.pause()
        assert shown(app) == before and session_of(app).viewer.annotation.dirty
        assert any("invalid JSON" in str(note.message) for note in app._notifications)
        assert config_path.read_text() == "{ spoilt by hand"
