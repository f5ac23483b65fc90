"""Bad project files: missing folders, a corrupt project.json, annotations that do not fit
or whose image is gone; each is named and nothing saved is lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from rptui.session.review import ReviewSession
from rptui.session.status import status_line
from rptui.store.annotation_files import to_png_bytes
from rptui.store.paths import CorruptProjectError
from rptui.store.workspace import Workspace
from tests.rptui_tests.bad_files import png_bytes, random_rgb, write_files
from tests.rptui_tests.screen_helpers import run_cli


# --- projects --------------------------------------------------------------------------------
@pytest.fixture()
def project_ws(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path / "ws ü").ensure()
    write_files(
        workspace.dataset_dir("data [1]"),
        {f"im {i} 根.png": png_bytes(random_rgb(i)) for i in range(4)},
    )
    workspace.create_project("proj (a)", "data [1]", seed=0).close()
    return workspace


def test_project_with_missing_folders_opens_and_recreates_them(project_ws: Workspace) -> None:
    folder = project_ws.project_dir("proj (a)")
    for name in ("annotations", "segmentations", "models", "logs"):
        if (folder / name).exists():
            for path in sorted((folder / name).rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            (folder / name).rmdir()
    with project_ws.open_project("proj (a)") as project:
        assert not project.read_only
        assert all(path.is_dir() for path in project.folders)
        session = ReviewSession(project)
        session.brush.paint_point(5, 5)
        session.accept()
    with project_ws.open_project("proj (a)") as project:
        assert len(project.annotated()) == 1


def test_corrupt_project_json_is_named_left_alone_and_others_still_list(
    project_ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    project_ws.create_project("other", "data [1]", seed=1).close()
    config = project_ws.project_dir("proj (a)") / "project.json"
    garbage = config.read_bytes()[:57]
    config.write_bytes(garbage)
    with pytest.raises(CorruptProjectError, match=r"proj \(a\)/project\.json"):
        project_ws.open_project("proj (a)")
    assert config.read_bytes() == garbage
    assert run_cli(project_ws.root, "project", "list") == 0
    out = capsys.readouterr().out
    assert "unreadable" in out and "proj (a)" in out
    assert any(line.startswith("other\t") for line in out.splitlines())
    assert config.read_bytes() == garbage


def test_wrong_size_annotation_is_named_and_never_overwritten(project_ws: Workspace) -> None:
    with project_ws.open_project("proj (a)") as project:
        stem = project.stem(0)
        wrong = to_png_bytes(np.ones((10, 10), np.uint8))
        path = project.annotation_path(stem, project.save_annotation_png(stem, None, wrong))
    with project_ws.open_project("proj (a)") as project:
        session = ReviewSession(project)  # opens on the image with the bad annotation
        assert session.viewer.stem == stem and session.viewer.problem is not None
        assert str(path) in session.viewer.problem and "10x10" in session.viewer.problem
        assert "not shown" in status_line(session, None)
        assert all(index != 0 for index, _, _ in session.presegmenter.plan().slices)
        session.brush.paint_point(3, 3)
        session.accept()  # moves on, saves nothing over the file
        assert session.viewer.index == 1 and session.viewer.problem is None
        session.brush.paint_point(3, 3)
        session.accept()
        session.goto(stem)
        assert session.viewer.problem is not None
    assert path.read_bytes() == wrong  # what was saved is kept as it was
    with project_ws.open_project("proj (a)") as project:
        assert len(project.annotated()) == 2


def test_missing_image_and_orphan_annotation_keep_every_saved_file(
    project_ws: Workspace,
) -> None:
    with project_ws.open_project("proj (a)") as project:
        kept = project.stem(0)
        project.save_annotation_png(kept, "train", to_png_bytes(np.ones((48, 64), np.uint8)))
        orphan = to_png_bytes(np.ones((4, 4), np.uint8))
        project.save_annotation_png("gone image", "train", orphan)
        missing_path = project.image_path(1)
        os.unlink(missing_path)  # a dataset image the user deleted
        missing = project.stem(1)
    with project_ws.open_project("proj (a)") as project:
        assert set(project.annotated()) == {kept, "gone image"}
        session = ReviewSession(project)
        session.goto(missing)
        assert session.viewer.problem is not None
        assert (
            str(missing_path) in session.viewer.problem and "no such file" in session.viewer.problem
        )
        session.skip()  # the rest goes on
        assert session.viewer.problem is None and session.viewer.index == 2
        session.goto(kept)
        assert session.viewer.annotation.background_pixels == 48 * 64
        orphan_path = project.annotation_path("gone image", "train")
    assert orphan_path.read_bytes() == orphan
    assert json.loads((project_ws.project_dir("proj (a)") / "project.json").read_text())
