"""Creating, listing and opening projects; strict project.json; several writers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from cluster.io.atomic import write_png_atomic
from rptui.store.lock import ProjectLock
from rptui.store.project_config import PROJECT_FILE_NAME, NewerSchemaError
from rptui.store.workspace import (
    CorruptProjectError,
    ReadOnlyProjectError,
    Workspace,
    WorkspaceError,
    default_workspace_root,
    shuffled_order,
)

N_IMAGES = 8


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    for i in range(N_IMAGES):
        write_png_atomic(ws.datasets_dir / "roots" / f"img_{i:02d}.png", np.zeros((8, 8, 3), "u1"))
    (ws.datasets_dir / "roots" / "notes.txt").write_text("not an image")
    return ws


def test_default_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPTUI_WORKSPACE", "/data/team")
    assert default_workspace_root() == Path("/data/team")
    monkeypatch.delenv("RPTUI_WORKSPACE")
    assert default_workspace_root() == Path.home() / "rptui"


def test_create_list_and_reopen_keep_the_image_order(workspace: Workspace) -> None:
    assert workspace.list_datasets() == ["roots"]
    project = workspace.create_project("p", "roots", seed=7)
    order = project.image_names
    assert sorted(order) == [f"img_{i:02d}.png" for i in range(N_IMAGES)]
    assert order == shuffled_order(order, 7) and order != sorted(order)
    assert project.image_path(0) == workspace.datasets_dir / "roots" / order[0]
    project.close()
    # New images added to the dataset later do not reshuffle the project.
    write_png_atomic(workspace.datasets_dir / "roots" / "img_new.png", np.zeros((8, 8, 3), "u1"))
    with workspace.open_project("p") as reopened:
        assert reopened.image_names == order
        assert not reopened.read_only
    [summary] = workspace.list_projects()
    assert (summary.name, summary.dataset, summary.n_images, summary.error) == (
        "p",
        "roots",
        N_IMAGES,
        None,
    )
    with pytest.raises(WorkspaceError, match="already exists"):
        workspace.create_project("p", "roots")


@pytest.mark.parametrize("bad", ["", "..", ".", "a/b", "../escape", "/abs", "a\\b", "x\x00y"])
def test_names_that_escape_the_workspace_are_rejected(workspace: Workspace, bad: str) -> None:
    with pytest.raises(WorkspaceError):
        workspace.create_project(bad, "roots")
    with pytest.raises(WorkspaceError):
        workspace.create_project("ok", bad)
    with pytest.raises(WorkspaceError):
        workspace.open_project(bad)
    assert not (workspace.root.parent / "escape").exists()


def test_escaping_names_inside_project_json_are_rejected(workspace: Workspace) -> None:
    workspace.create_project("p", "roots", seed=1).close()
    path = workspace.project_dir("p") / PROJECT_FILE_NAME
    obj = json.loads(path.read_text())
    obj["images"][0] = "../../../etc/passwd"
    path.write_text(json.dumps(obj))
    with pytest.raises(CorruptProjectError, match="image name"):
        workspace.open_project("p")


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"name": "p"}', b"\xff\xfe", b""], ids=str
)
def test_corrupt_project_json_is_named_and_never_overwritten(
    workspace: Workspace, content: bytes
) -> None:
    workspace.create_project("p", "roots").close()
    path = workspace.project_dir("p") / PROJECT_FILE_NAME
    path.write_bytes(content)
    with pytest.raises(CorruptProjectError) as caught:
        workspace.open_project("p")
    assert str(path) in str(caught.value)
    [summary] = workspace.list_projects()
    assert summary.error is not None and str(path) in summary.error
    assert path.read_bytes() == content


def test_newer_schema_gives_a_clear_error(workspace: Workspace) -> None:
    workspace.create_project("p", "roots").close()
    path = workspace.project_dir("p") / PROJECT_FILE_NAME
    obj = json.loads(path.read_text())
    obj["schema_version"] = 99
    path.write_text(json.dumps(obj))
    with pytest.raises(NewerSchemaError, match="upgrade"):
        workspace.open_project("p")


def test_a_second_app_opens_the_project_writable_too(workspace: Workspace) -> None:
    first = workspace.create_project("p", "roots")
    second = workspace.open_project("p")
    assert not first.read_only and not second.read_only
    first.save_annotation_png("img_00", None, b"png")
    second.save_annotation_png("img_01", None, b"png")
    on_disk = json.loads((workspace.project_dir("p") / PROJECT_FILE_NAME).read_bytes())
    assert set(on_disk["splits"]) == {"img_00", "img_01"}
    first.close()
    second.close()


def test_an_older_rptui_holding_the_whole_project_makes_it_read_only(
    workspace: Workspace,
) -> None:
    """An rptui from before leases takes the whole-project lock and would overwrite the
    others' records: while it lives, the project opens read-only and says who holds it."""
    workspace.create_project("p", "roots").close()
    older = ProjectLock(workspace.project_dir("p"))
    older.acquire()
    reader = workspace.open_project("p")
    assert reader.read_only
    assert reader.lock_info is not None and reader.lock_info.pid == os.getpid()
    assert f"pid {os.getpid()}" in (reader.read_only_reason or "")
    before = (workspace.project_dir("p") / PROJECT_FILE_NAME).read_bytes()
    for attempt in (
        lambda: reader.save_annotation_png("img_00", None, b"png"),
        lambda: reader.save_segmentation("img_00", b"png", 1),
        reader.save_config,
    ):
        with pytest.raises(ReadOnlyProjectError, match="read-only"):
            attempt()
    assert (workspace.project_dir("p") / PROJECT_FILE_NAME).read_bytes() == before
    reader.close()  # closing a reader must not drop the older rptui's lock
    assert workspace.open_project("p").read_only
    older.release()
    assert not workspace.open_project("p").read_only


def test_splits_follow_the_rule_and_never_change(workspace: Workspace) -> None:
    project = workspace.create_project("p", "roots")
    stems = [project.stem(i) for i in range(N_IMAGES)]
    splits = [project.save_annotation_png(stem, None, b"png") for stem in stems]
    assert splits == ["val", "train", "train", "train", "train", "train", "val", "train"]
    assert project.save_annotation_png(stems[0], None, b"again") == "val"
    with pytest.raises(WorkspaceError, match="never changes split"):
        project.save_annotation_png(stems[0], "train", b"png")
    assert project.load_annotation_png(stems[0]) == b"again"
    assert project.load_annotation_png("unknown") is None
    project.close()
    with workspace.open_project("p") as reopened:
        assert [reopened.split_of(stem) for stem in stems] == splits
        assert reopened.annotated() == dict(zip(stems, splits, strict=True))


def test_models_are_listed_by_number(workspace: Workspace) -> None:
    model = workspace.root / "start.pkl"
    model.write_bytes(b"weights")
    project = workspace.create_project("p", "roots", start_model=str(model))
    (project.models_dir / "000010_1700000000.pt").write_bytes(b"w")
    (project.models_dir / "000002_1600000000.pkl").write_bytes(b"w")
    (project.models_dir / "readme.txt").write_bytes(b"w")
    numbers = [info.number for info in project.models()]
    assert numbers == [1, 2, 10]
    assert project.models()[0].path.read_bytes() == b"weights"
    assert project.newest_model() is not None and project.newest_model().number == 10


def test_segmentation_records_the_model_that_made_it(workspace: Workspace) -> None:
    project = workspace.create_project("p", "roots")
    assert project.segmentation_info("img_00") is None
    project.save_segmentation("img_00", b"mask v1", 4)
    info = project.segmentation_info("img_00")
    assert info is not None and info.model_version == 4
    assert info.path.read_bytes() == b"mask v1"
    # A mask replaced without its record (a kill between the two writes) is not
    # attributed to the wrong model.
    info.path.write_bytes(b"mask v2")
    info = project.segmentation_info("img_00")
    assert info is not None and info.model_version is None


def test_open_recreates_folders_and_removes_stale_temp_files(workspace: Workspace) -> None:
    project = workspace.create_project("p", "roots")
    project.close()
    (project.segmentations_dir).rmdir()
    stale = project.models_dir / ".000002_1.pt.abc.tmp"
    stale.write_bytes(b"half a model")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    with workspace.open_project("p") as reopened:
        assert reopened.segmentations_dir.is_dir()
        assert not stale.exists()


def test_position_and_reviewed_images_survive_reopening(workspace: Workspace) -> None:
    with workspace.create_project("p", "roots") as project:
        project.set_position(3, reviewed=True)
        stem = project.stem(3)
    with workspace.open_project("p") as reopened:
        assert reopened.config.position == 3 and reopened.config.reviewed == {stem}
