"""Most uncertain next with two apps on one project: retracing never lands on the other's image."""

from __future__ import annotations

from pathlib import Path

import pytest

from rptui.session.order import UNCERTAIN
from rptui.session.review import ReviewSession
from rptui.store.annotator import Annotator
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import PROJECT, make_workspace

N_IMAGES = 6
SIZE = 16


@pytest.fixture
def root(tmp_path: Path) -> Path:
    make_workspace(tmp_path / "ws", count=N_IMAGES, height=SIZE, width=SIZE)
    return tmp_path / "ws"


def session_of(root: Path, name: str) -> ReviewSession:
    """``name``'s app's review session on the project."""
    workspace = Workspace(root, annotator=Annotator.current(name))
    return ReviewSession(workspace.open_project(PROJECT))


def test_retracing_passes_over_an_image_another_app_took_meanwhile(root: Path) -> None:
    ana = session_of(root, "Ana")
    ana.set_order(UNCERTAIN)
    served = [ana.viewer.stem]
    for _ in range(3):
        ana.skip()
        served.append(ana.viewer.stem)
    assert len(set(served)) == 4
    for _ in range(3):  # back to the first image served
        ana.previous()
    assert ana.viewer.stem == served[0]

    ben = session_of(root, "Ben")  # Ben takes the second image Ana was served
    ben.goto(served[1])
    assert ben.viewer.stem == served[1] and ben.held_by is None

    ana.skip()  # retraces what Ana was served, without Ben's image
    assert ana.viewer.stem == served[2] and ana.held_by is None
    ana.skip()
    assert ana.viewer.stem == served[3] and ana.held_by is None
    ana.skip()  # then a new image, still not Ben's
    assert ana.viewer.stem not in served and ana.held_by is None
    assert ben.project.leases is not None and ben.project.leases.holds(served[1])
    ana.project.close()
    ben.project.close()


def test_an_image_another_app_holds_is_never_served_in_uncertain_order(root: Path) -> None:
    ana, ben = session_of(root, "Ana"), session_of(root, "Ben")
    ana.set_order(UNCERTAIN)
    ben.set_order(UNCERTAIN)
    for _ in range(N_IMAGES):  # past the last image: each stays on its own
        ana.skip()
        ben.skip()
        assert ana.viewer.stem != ben.viewer.stem
        assert ana.held_by is None and ben.held_by is None
    ana.project.close()
    ben.project.close()


def test_stepping_back_onto_an_image_another_app_took_saves_nothing_over_it(root: Path) -> None:
    ana = session_of(root, "Ana")
    ana.set_order(UNCERTAIN)
    first = ana.viewer.stem
    ana.skip()
    ben = session_of(root, "Ben")  # Ben opens the image Ana was served first
    ben.goto(first)
    assert ben.held_by is None
    ana.previous()  # Ana steps back onto it
    assert ana.viewer.stem == first and ana.held_by is not None
    ana.viewer.annotation.fill_box(0, 0, 3, 3, value=2)
    assert ana.accept() == []  # shown, not saved: it is Ben's
    assert ana.project.annotation_file(first) is None
    assert ben.project.leases is not None and ben.project.leases.holds(first)
    ana.project.close()
    ben.project.close()
