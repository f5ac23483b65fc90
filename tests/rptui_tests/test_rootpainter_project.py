"""A RootPainter project opens as it is and can be annotated further."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cluster.io.atomic import write_png_atomic
from rptui.store.rootpainter import read_seg_proj
from rptui.store.workspace import CorruptProjectError, Workspace, WorkspaceError

FILE_NAMES = ["b_03.jpg", "a_01.png", "c_02.png"]


def _rgba_annotation(height: int, width: int) -> bytes:
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[2:4, 2:4] = (255, 0, 0, 180)  # foreground
    rgba[6:, :] = (0, 255, 0, 180)  # background
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    return buffer.getvalue()


def _make_rootpainter_project(sync: Path, **overrides: object) -> Path:
    """A sync folder as RootPainter makes it, with one annotation and one model."""
    for name in FILE_NAMES:
        write_png_atomic(sync / "datasets" / "roots_750" / name, np.zeros((8, 8, 3), "u1"))
    project = sync / "projects" / "roots_rp"
    for sub in ("annotations/train", "annotations/val", "segmentations", "models", "messages"):
        (project / sub).mkdir(parents=True)
    (project / "logs").mkdir()
    (project / "annotations" / "train" / "b_03.png").write_bytes(_rgba_annotation(8, 8))
    (project / "models" / "000001_1600000000.pkl").write_bytes(b"state dict")
    info = {
        "name": "roots_rp",
        "dataset": "roots_750",
        "original_model_file": "random weights",
        "location": "projects/roots_rp",
        "file_names": FILE_NAMES,
        **overrides,
    }
    seg_proj = project / "roots_rp.seg_proj"
    seg_proj.write_text(json.dumps(info, indent=4))
    return seg_proj


def test_rootpainter_project_opens_in_place_and_takes_new_annotations(tmp_path: Path) -> None:
    seg_proj = _make_rootpainter_project(tmp_path / "sync")
    seg_proj_bytes = seg_proj.read_bytes()
    workspace = Workspace(tmp_path / "ws").ensure()
    project = workspace.import_rootpainter(seg_proj)
    rp_dir = seg_proj.parent
    assert not project.read_only
    assert project.image_names == FILE_NAMES  # RootPainter's order is kept
    assert project.image_path(0) == tmp_path / "sync" / "datasets" / "roots_750" / "b_03.jpg"
    assert project.annotated() == {"b_03": "train"}
    assert project.split_of("b_03") == "train"
    assert project.load_annotation_png("b_03") == _rgba_annotation(8, 8)
    assert [(m.number, m.is_rootpainter_pickle) for m in project.models()] == [(1, True)]
    # Annotate further: the new annotation lands in RootPainter's folders.
    split = project.save_annotation_png("a_01", None, _rgba_annotation(8, 8))
    assert split == "val"  # one train annotation already, so validation gets the next
    assert (rp_dir / "annotations" / "val" / "a_01.png").read_bytes() == _rgba_annotation(8, 8)
    assert project.models_dir == rp_dir / "models"
    project.close()
    assert seg_proj.read_bytes() == seg_proj_bytes  # RootPainter's file is never written
    # It is a workspace project now, opened by name; importing again opens the same one.
    assert [s.name for s in workspace.list_projects()] == ["roots_rp"]
    with workspace.open_project("roots_rp") as reopened:
        assert reopened.annotated() == {"b_03": "train", "a_01": "val"}
    with workspace.import_rootpainter(seg_proj) as again:
        assert again.split_of("a_01") == "val"


def test_workspaces_importing_the_same_project_share_its_image_leases(tmp_path: Path) -> None:
    seg_proj = _make_rootpainter_project(tmp_path / "sync")
    first = Workspace(tmp_path / "ws1").import_rootpainter(seg_proj)
    second = Workspace(tmp_path / "ws2").import_rootpainter(seg_proj)
    assert not first.read_only and not second.read_only
    assert first.leases is not None and second.leases is not None
    stem = first.stem(0)
    assert first.leases.take(stem)
    assert not second.leases.take(stem)  # the leases live in the RootPainter folder
    first.close()
    assert second.leases.take(stem)
    second.close()


def test_a_name_already_taken_needs_another_name(tmp_path: Path) -> None:
    seg_proj = _make_rootpainter_project(tmp_path / "sync")
    workspace = Workspace(tmp_path / "ws").ensure()
    write_png_atomic(workspace.datasets_dir / "d" / "x.png", np.zeros((4, 4, 3), "u1"))
    workspace.create_project("roots_rp", "d").close()
    with pytest.raises(WorkspaceError, match="already exists"):
        workspace.import_rootpainter(seg_proj)
    with workspace.import_rootpainter(seg_proj, name="roots_rp_imported") as project:
        assert project.image_names == FILE_NAMES


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"dataset": "../../../etc"}, "dataset"),
        ({"dataset": "/etc"}, "dataset"),
        ({"file_names": ["../secret.png"]}, "image file name"),
        ({"file_names": "a.png"}, "not a list"),
        ({"name": "a/b"}, "project name"),
    ],
)
def test_seg_proj_paths_must_stay_inside_the_sync_folder(
    tmp_path: Path, overrides: dict[str, object], reason: str
) -> None:
    seg_proj = _make_rootpainter_project(tmp_path / "sync", **overrides)
    with pytest.raises(CorruptProjectError, match=reason) as caught:
        read_seg_proj(seg_proj)
    assert str(seg_proj) in str(caught.value)


def test_corrupt_seg_proj_is_named_and_left_alone(tmp_path: Path) -> None:
    seg_proj = _make_rootpainter_project(tmp_path / "sync")
    seg_proj.write_bytes(b'{"name": "roots_rp", "datas')
    with pytest.raises(CorruptProjectError) as caught:
        Workspace(tmp_path / "ws").import_rootpainter(seg_proj)
    assert str(seg_proj) in str(caught.value)
    assert seg_proj.read_bytes() == b'{"name": "roots_rp", "datas'
    assert not (tmp_path / "ws" / "projects" / "roots_rp").exists()


def test_missing_dataset_is_reported(tmp_path: Path) -> None:
    seg_proj = _make_rootpainter_project(tmp_path / "sync", dataset="gone")
    with pytest.raises(WorkspaceError, match="gone"):
        Workspace(tmp_path / "ws").import_rootpainter(seg_proj)
