"""Red team, a careless user or a hostile file: one line and a clear exit, never a traceback,
never work lost, never a wrong result reported as a good one."""

from __future__ import annotations

import contextlib
import errno
import json
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image

from rptui.errors import EXIT_FAILURE, EXIT_USER_ERROR
from rptui.folders import run as folder_run
from rptui.session.stack import read_shown_mask
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import DATASET, PROJECT, make_workspace, run_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HUGE_SIDE = 30_000  # 900 megapixels: over our limit


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=2, height=40, width=56, with_model=True)


@pytest.fixture()
def source(workspace: Workspace, tmp_path: Path) -> Path:
    """A folder of the user's images (a copy of the dataset)."""
    folder = tmp_path / "in"
    shutil.copytree(workspace.dataset_dir(DATASET), folder)
    return folder


def segment(workspace: Workspace, source: Path, output: Path, *words: str) -> int:
    return run_cli(workspace.root, "--in-process", "segment", str(source), str(output),
                   "--model", PROJECT, "--no-tta", *words)  # fmt: skip


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rptui: error:"), lines
    return lines


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[Path]:
    """``folder`` made so nothing can be created in it (immutable as root, else 0555)."""
    folder.mkdir(parents=True, exist_ok=True)
    locked = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    if not locked:
        folder.chmod(0o555)
    try:
        try:
            (folder / "probe").touch()
        except PermissionError:
            yield folder
        else:
            pytest.skip("cannot make a folder unwritable here")
    finally:
        if locked:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


# --- reading: limits, stacks, names --------------------------------------------------------
def test_measure_reads_masks_over_pillows_limit_and_lists_one_over_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pillow's own limit (178.9 Mpx, lowered here to keep the masks small) never applies;
    ours (400 Mpx) makes one row with its error."""
    masks = tmp_path / "masks"
    masks.mkdir()
    for index in range(2):
        mask = np.zeros((60, 80), np.uint8)
        mask[10:50, 20 + index] = 255
        Image.fromarray(mask).save(masks / f"m{index}.png")
    (masks / "bomb.png").write_bytes(png_claiming(HUGE_SIDE, HUGE_SIDE))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # our masks are 4.8x over it
    table_path = tmp_path / "t.csv"
    assert run_cli(tmp_path / "ws", "measure", str(masks), "-o", str(table_path)) == 0
    table = pd.read_csv(table_path, keep_default_na=False).set_index("file")
    assert table.loc["m0.png", "error"] == table.loc["m1.png", "error"] == ""
    assert int(table.loc["m0.png", "count"]) == 1
    assert "too large" in table.loc["bomb.png", "error"]


def test_a_tiff_whose_pages_differ_in_size_is_a_row_error_and_the_run_goes_on(
    workspace: Workspace, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with tifffile.TiffWriter(source / "odd.tif") as tif:
        tif.write(np.zeros((40, 56), np.uint8))
        tif.write(np.zeros((20, 30), np.uint8))
    out = tmp_path / "out"
    assert segment(workspace, source, out, "--measure", "count") == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["root_000.png", "root_001.png"]
    assert not (out / "odd.tif").exists()
    printed = capsys.readouterr().out
    assert "odd.tif" in printed and "page 2 is 30x20" in printed
    table = pd.read_csv(out / "measurements.csv", keep_default_na=False).set_index("file")
    assert "page 2" in table.loc["odd.tif", "error"]


def test_masks_of_two_images_would_be_one_file_so_both_are_refused_by_name(
    workspace: Workspace, source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.open(source / "root_000.png").convert("RGB").save(source / "root_000.jpg")
    out = tmp_path / "out"
    assert segment(workspace, source, out, "--measure", "count") == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["root_001.png"]
    printed = capsys.readouterr().out
    for name in ("root_000.png", "root_000.jpg"):
        assert f"failed {source / name}: its mask would be root_000.png" in printed
    assert "1 masks written" in printed and "2 failed" in printed


@pytest.mark.parametrize("inside", ["", "masks", "masks/deeper"])
def test_output_equal_to_or_inside_input_is_refused(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], inside: str
) -> None:
    source = workspace.dataset_dir(DATASET)
    before = sorted(source.rglob("*"))
    assert segment(workspace, source, source / inside) == EXIT_USER_ERROR
    assert "inside INPUT" in error_lines(capsys)[0]
    assert sorted(source.rglob("*")) == before


def test_a_name_with_a_control_character_never_reaches_a_project(
    workspace: Workspace, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(source / "root_000.png", source / "new\nline.png")
    root = workspace.root
    assert run_cli(root, "dataset", "create", str(source), "d2") == 0
    assert "control character" in capsys.readouterr().out
    assert run_cli(root, "project", "create", "p2", "--dataset", "d2") == 0
    with workspace.open_project("p2") as project:
        assert len(project) == 2 and not project.read_only
    # A dataset folder filled by hand: the project is refused, nothing is written.
    shutil.copy(source / "new\nline.png", workspace.dataset_dir("d2"))
    assert run_cli(root, "project", "create", "p3", "--dataset", "d2") == EXIT_USER_ERROR
    assert "control character" in error_lines(capsys)[0]
    assert not workspace.project_dir("p3").exists()


# --- writing: folders that refuse, disks that fill ------------------------------------------
def test_an_output_folder_that_cannot_be_written_is_refused_before_any_work(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = workspace.dataset_dir(DATASET)
    with unwritable(tmp_path / "locked") as locked:
        assert segment(workspace, source, locked / "masks") == EXIT_USER_ERROR
        assert str(locked) in error_lines(capsys)[0]
        out = tmp_path / "out"
        table = locked / "t.csv"
        assert segment(workspace, source, out, "--measure", "count", "--table", str(table)) == 2
        assert str(locked) in error_lines(capsys)[0]
        assert not out.exists() or not any(out.iterdir()), "masks were made before refusing"


def test_output_naming_an_existing_file_is_refused(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me")
    assert segment(workspace, workspace.dataset_dir(DATASET), existing) == EXIT_USER_ERROR
    assert "is a file" in error_lines(capsys)[0]
    assert existing.read_text() == "keep me"


def test_measure_and_correlate_refuse_outputs_they_cannot_write(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    masks = tmp_path / "masks"
    segment(workspace, workspace.dataset_dir(DATASET), masks)
    capsys.readouterr()
    root = workspace.root
    folder = tmp_path / "named like a table.csv"
    folder.mkdir()
    assert run_cli(root, "measure", str(masks), "-o", str(folder)) == EXIT_USER_ERROR
    assert "is a folder" in error_lines(capsys)[0]
    with unwritable(tmp_path / "locked") as locked:
        code = run_cli(root, "measure", str(masks), "-o", str(locked / "t.csv"))
        assert code == EXIT_USER_ERROR and str(locked) in error_lines(capsys)[0]
    table = tmp_path / "t.csv"
    assert run_cli(root, "measure", str(masks), "-o", str(table)) == 0
    capsys.readouterr()
    words = ["correlate", str(table), str(table), "--auto-column", "length_px"]
    words += ["--manual-column", "length_px", "--plot", str(folder)]
    assert run_cli(root, *words) == EXIT_USER_ERROR
    assert "is a folder" in error_lines(capsys)[0]


def test_a_full_disk_keeps_the_masks_written_and_says_how_to_resume(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes: list[Path] = []
    real_write = folder_run.write_bytes_atomic

    def fill_after_one(path: Path, data: bytes) -> None:
        if writes:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        writes.append(path)
        real_write(path, data)

    monkeypatch.setattr(folder_run, "write_bytes_atomic", fill_after_one)
    source, out = workspace.dataset_dir(DATASET), tmp_path / "out"
    assert segment(workspace, source, out) == EXIT_FAILURE
    line = error_lines(capsys)[0]
    assert "no space left" in line and "run the same command again" in line
    assert [p.name for p in out.iterdir()] == [writes[0].name]
    monkeypatch.undo()
    assert segment(workspace, source, out) == 0
    assert "1 masks written" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["root_000.png", "root_001.png"]


# --- wrong results reported as good ones ------------------------------------------------------
def test_a_grey_mask_without_classes_is_measured_as_foreground_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    grey = np.zeros((60, 80), np.uint8)
    grey[5:20, 5:20], grey[30:50, 30:60] = 100, 200
    Image.fromarray(grey).save(masks / "grey.png")
    table_path = tmp_path / "t.csv"
    assert run_cli(tmp_path / "ws", "measure", str(masks), "-o", str(table_path)) == 0
    table = pd.read_csv(table_path)
    assert len(table) == 1 and "class" not in table.columns
    assert table.loc[0, "count"] == 2
    assert "grey levels 100, 200" in caplog.text


def test_segment_exits_non_zero_when_no_mask_could_be_written(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for name in ("a.png", "b.jpg"):
        (source / name).write_bytes(b"not an image")
    assert segment(workspace, source, tmp_path / "out") == EXIT_FAILURE
    assert "0 masks written" in capsys.readouterr().out


def test_a_name_a_spreadsheet_would_run_is_written_as_text(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(workspace.dataset_dir(DATASET) / "root_000.png", source / "=1+2.png")
    out = tmp_path / "out"
    assert segment(workspace, source, out, "--measure", "count") == 0
    first_cell = (out / "measurements.csv").read_text().splitlines()[1].split(",")[0]
    assert first_cell == "'=1+2.png"


def test_project_list_names_a_copied_project_by_its_folder(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(workspace.project_dir(PROJECT), workspace.projects_dir / "copy")
    assert run_cli(workspace.root, "project", "list") == 0
    names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["copy (named p)", "p"]


def test_the_torch_floor_is_past_the_weights_only_bypass() -> None:
    """CVE-2025-32434: ``torch.load(weights_only=True)`` runs code up to torch 2.5.1."""
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    floor = next(line for line in pyproject.splitlines() if line.strip().startswith('"torch>='))
    major, minor = (int(part) for part in floor.split(">=")[1].split(",")[0].split(".")[:2])
    assert (major, minor) >= (2, 6)


def test_the_summary_of_a_run_reads_back_with_what_it_kept(tmp_path: Path) -> None:
    report = folder_run.FolderReport(kept_unknown=[tmp_path / "a.png"], replaced=[])
    again, _ = folder_run.FolderReport.from_summary(json.loads(json.dumps(report.summary())))
    assert again.kept_unknown == [tmp_path / "a.png"]


@pytest.mark.parametrize("classes", [2, 4])
def test_an_unreadable_saved_mask_is_refused_as_the_viewer_expects(
    tmp_path: Path, classes: int
) -> None:
    """The viewer shows a placeholder for ValueError and OSError; anything else would crash."""
    path = tmp_path / "mask.png"
    path.write_bytes(png_claiming(HUGE_SIDE, HUGE_SIDE))
    with pytest.raises(ValueError, match=r"mask\.png"):
        read_shown_mask(path, classes=classes)
