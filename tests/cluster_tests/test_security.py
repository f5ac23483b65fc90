"""Security: no secret in what rptui writes or prints, no unpickling, no path escapes.

The embedded head's loopback-only sockets and token check are tested in test_connect.py,
and the cluster YAML's closed ports in test_cluster_config.py; this module adds the rest.
Symlinks: images are read through them (a dataset may link to files elsewhere), but no
write ever goes through one, since every write replaces the link itself (temporary file,
then rename).
"""

from __future__ import annotations

import ast
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cluster.head.connect import Connection
from cluster.head.head_files import ray_temp_dir, token_path
from rptui.cli import main
from rptui.store.annotation_files import to_png_bytes
from rptui.store.paths import WorkspaceError
from rptui.store.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("cluster", "rptui")
EXIT_USER_ERROR = 2
ESCAPES = ["../outside", "..", "a/../../outside", "/tmp/outside", "sub/dir", "x\x00y"]


def _png(seed: int, size: tuple[int, int] = (40, 50)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]


# --- secrets ---------------------------------------------------------------------------------
def test_the_ray_token_is_in_no_file_or_output_but_its_own(
    ray_session: Connection, _ray_state: object, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace: Path = _ray_state.workspace  # type: ignore[attr-defined]
    token_file = token_path(workspace)
    token = token_file.read_bytes().strip()
    assert len(token) >= 32
    assert token_file.stat().st_mode & 0o077 == 0, "the token is readable by others"
    # Some work a user does, writing logs, head records and project files.
    data = Workspace(workspace).ensure().dataset_dir("secret check")
    data.mkdir(exist_ok=True)
    (data / "a.png").write_bytes(_png(0))
    Workspace(workspace).create_project("token check", "secret check", seed=0).close()
    assert main(["--workspace", str(workspace), "status"]) == 0
    assert main(["--workspace", str(workspace), "project", "list"]) == 0
    printed = capsys.readouterr()
    assert ray_session.address in printed.out  # status did report the head
    assert token.decode() not in printed.out + printed.err
    written = [p for p in _files(workspace) if p != token_file]
    assert any(p.suffix == ".json" for p in written) and any(p.suffix == ".log" for p in written)
    leaking = [p for p in written if token in p.read_bytes()]
    assert not leaking, f"the Ray token is written in {leaking}"
    # Ray's own session logs (outside the workspace) do not carry it either.
    ray_logs = _files(ray_temp_dir(workspace))
    assert ray_logs
    leaking = [p for p in ray_logs if p.stat().st_size < 50_000_000 and token in p.read_bytes()]
    assert not leaking, f"Ray writes the token in {leaking}"


# --- no unpickling ---------------------------------------------------------------------------
def _calls(tree: ast.AST, names: set[str]) -> list[ast.Call]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and f"{owner.id}.{node.func.attr}" in names:
                found.append(node)
    return found


def _keyword(call: ast.Call, name: str) -> object:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def test_no_code_path_unpickles_a_file() -> None:
    """torch.load only with weights_only=True, np.load only with allow_pickle=False,
    and no pickle.load at all, anywhere in the two packages."""
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text("utf-8"))
            where = path.relative_to(REPO)
            for call in _calls(tree, {"torch.load"}):
                if _keyword(call, "weights_only") is not True:
                    offenders.append(f"{where}:{call.lineno} torch.load")
            for call in _calls(tree, {"np.load", "numpy.load"}):
                if _keyword(call, "allow_pickle") is not False:
                    offenders.append(f"{where}:{call.lineno} np.load")
            for call in _calls(tree, {"pickle.load", "pickle.Unpickler"}):
                offenders.append(f"{where}:{call.lineno} pickle")
    assert not offenders, offenders


# --- path escapes ----------------------------------------------------------------------------
@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path / "ws").ensure()
    data = workspace.dataset_dir("d")
    data.mkdir()
    for seed in range(2):
        (data / f"im{seed}.png").write_bytes(_png(seed))
    workspace.create_project("p", "d", seed=0).close()
    return workspace


@pytest.mark.parametrize("name", ESCAPES)
def test_names_from_the_command_line_cannot_escape_the_workspace(
    workspace: Workspace, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(workspace.root)
    source = workspace.dataset_dir("d")
    before = sorted(tmp_path.rglob("*"))
    assert main(["--workspace", root, "dataset", "create", str(source), name]) == EXIT_USER_ERROR
    code = main(["--workspace", root, "project", "create", name, "--dataset", "d"])
    assert code == EXIT_USER_ERROR
    if not name.startswith("/"):  # an absolute dataset is a folder of the user's choice
        code = main(["--workspace", root, "project", "create", "q", "--dataset", name])
        assert code == EXIT_USER_ERROR
    spec = f"{name}:1"
    out = tmp_path / "masks"
    code = main(["--workspace", root, "--in-process", "segment", str(source), str(out),
                 "--model", spec])  # fmt: skip
    assert code == EXIT_USER_ERROR
    assert sorted(tmp_path.rglob("*")) == before, "something was written"
    errors = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("rptui: error:") for line in errors), errors


def test_annotation_and_segmentation_names_cannot_escape(workspace: Workspace) -> None:
    with workspace.open_project("p") as project:
        png = to_png_bytes(np.ones((40, 50), np.uint8))
        for name in ESCAPES:
            with pytest.raises(WorkspaceError):
                project.save_annotation_png(name, "train", png)
            with pytest.raises(WorkspaceError):
                project.save_segmentation(name, png, 1)
            with pytest.raises(WorkspaceError):
                project.annotation_path(name, "val")
        with pytest.raises(WorkspaceError):
            project.annotation_path("ok", "../train")  # type: ignore[arg-type]
    assert not (workspace.root / "outside").exists()
    assert not (workspace.projects_dir / "outside.png").exists()


def test_a_model_spec_naming_a_project_outside_is_refused(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder with a project.json outside the workspace is not reachable as PROJECT:N."""
    outside = tmp_path / "outside"
    (outside / "models").mkdir(parents=True)
    (outside / "project.json").write_text((workspace.project_dir("p") / "project.json").read_text())
    source = workspace.dataset_dir("d")
    words = ["--workspace", str(workspace.root), "--in-process", "segment", str(source)]
    assert main([*words, str(tmp_path / "m"), "--model", "../../outside:1"]) == EXIT_USER_ERROR
    assert "../../outside" in capsys.readouterr().err


# --- symlinks --------------------------------------------------------------------------------
def test_symlinked_images_are_read_and_copied_never_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    original = _png(3)
    (elsewhere / "real.png").write_bytes(original)
    source = tmp_path / "source"
    source.mkdir()
    (source / "link.png").symlink_to(elsewhere / "real.png")
    (source / "linked folder").symlink_to(elsewhere, target_is_directory=True)
    root = tmp_path / "ws"
    assert main(["--workspace", str(root), "dataset", "create", str(source), "d"]) == 0
    made = root / "datasets" / "d" / "link.png"
    assert made.is_file() and not made.is_symlink()
    assert "linked folder" in capsys.readouterr().out  # reported, not searched
    assert (elsewhere / "real.png").read_bytes() == original
    assert sorted(p.name for p in elsewhere.iterdir()) == ["real.png"]


def test_a_symlink_in_the_project_is_replaced_not_written_through(
    workspace: Workspace, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    with workspace.open_project("p") as project:
        stem = project.stem(0)
        link = project.annotation_path(stem, "val")
        link.symlink_to(victim)
        project.save_annotation_png(stem, "val", to_png_bytes(np.ones((40, 50), np.uint8)))
        mask_link = project.segmentation_path(stem)
        mask_link.symlink_to(victim)
        project.save_segmentation(stem, b"mask bytes", 1)
    assert victim.read_text() == "keep me"
    assert not link.is_symlink() and not mask_link.is_symlink()
    assert os.path.getsize(link) > 0
