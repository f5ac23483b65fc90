"""Bad input through the user-facing commands: each bad file is named, the rest goes on.

Every case runs the real command line (``rptui.cli.main``) or the project API the app
uses, over folders where broken files sit beside good ones, with file names holding
spaces, unicode and brackets.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cluster.io.mask_formats import encode_mask
from cluster.io.model_files import save_model
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from tests.rptui_tests.bad_files import SIZE, png_bytes, random_rgb, write_files
from tests.rptui_tests.screen_helpers import run_cli

HUGE_SIDE = 20_000
# The whole `dataset create` process, refusing the huge image, stays under this (it
# would need several GB to decode it).
HUGE_RSS_BOUND_MB = 600  # measured ~340 MB; decoding it whole took 1.8 GB
EXIT_USER_ERROR = 2


def _jpeg(array: np.ndarray, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert(mode).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# Readable images in every format, mode and depth a user may bring, oddly named.
def good_images() -> dict[str, bytes]:
    deep = (np.arange(SIZE[0] * SIZE[1]).reshape(SIZE) * 7).astype(np.uint16)
    rgba = np.dstack([random_rgb(3), np.full(SIZE, 128, np.uint8)])
    return {
        "plain root.png": png_bytes(random_rgb(1)),
        "根 ünïcødé.png": png_bytes(random_rgb(2)),
        "brackets [2] (copy) {x}.png": png_bytes(rgba),
        "deep 16-bit.png": png_bytes(deep),
        "cmyk photo.jpg": _jpeg(random_rgb(4), "CMYK"),
        "palette.png": png_bytes(random_rgb(5), "P"),
        "one pixel.png": png_bytes(np.full((1, 1, 3), 200, np.uint8)),
    }


# Unreadable files with image suffixes; the words each one's reason contains.
def bad_images() -> dict[str, tuple[bytes, str]]:
    good = png_bytes(random_rgb(6))
    return {
        "zero byte.png": (b"", "zero-byte"),
        "truncated [half].png": (good[: len(good) // 2], "truncated"),
        "corrupt (1).png": (good[:40] + bytes(range(256)) * 8, ""),
        "notes 根.tif": (b"field notes, not a picture\n" * 10, ""),
        "text pretending.jpg": (b"just some text\n" * 10, "not an image"),
    }


def sparse_bilevel_png(path: Path, side: int) -> None:
    """A side x side 1-bit PNG, all black but one line, written row by row (a few KB)."""
    row_bytes = (side + 7) // 8
    blank = b"\x00" + bytes(row_bytes)  # filter byte 0, then the packed row
    line = b"\x00" + b"\xff" * row_bytes
    packer = zlib.compressobj(9)
    chunks = [packer.compress(line if y == side // 2 else blank) for y in range(side)]
    data = b"".join(chunks) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, grey
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "my images (raw)"
    write_files(folder, good_images())
    write_files(folder, {name: data for name, (data, _) in bad_images().items()})
    (folder / "readme.txt").write_text("not an image type")
    return folder


def test_dataset_create_keeps_the_good_and_names_each_bad_file(
    tmp_path: Path, source: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "ws"
    assert run_cli(workspace, "dataset", "create", str(source), "roots ü [1]") == 0
    out = capsys.readouterr().out
    made = sorted(p.name for p in (workspace / "datasets" / "roots ü [1]").iterdir())
    assert made == sorted(f"{Path(name).stem}.png" for name in good_images())
    for name in made:
        with Image.open(workspace / "datasets" / "roots ü [1]" / name) as image:
            assert image.mode == "RGB"
    skipped = {line for line in out.splitlines() if line.startswith("skipped ")}
    for name, (_, reason) in bad_images().items():
        lines = [line for line in skipped if name in line]
        assert len(lines) == 1, f"{name} is not reported once: {out}"
        assert reason in lines[0]
    assert any("readme.txt" in line for line in skipped)
    assert f"{len(good_images())} images" in out


def test_a_folder_of_only_bad_images_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "bad only"
    write_files(folder, {name: data for name, (data, _) in bad_images().items()})
    assert run_cli(tmp_path / "ws", "dataset", "create", str(folder), "d") == EXIT_USER_ERROR
    captured = capsys.readouterr()
    assert "no image could be read" in captured.err
    assert "zero byte.png" in captured.out
    assert not (tmp_path / "ws" / "datasets" / "d").exists()  # nothing half-made is left


def test_a_20000_pixel_square_is_refused_without_decoding_it(tmp_path: Path) -> None:
    folder = tmp_path / "huge scans"
    folder.mkdir()
    sparse_bilevel_png(folder / "huge [20k].png", HUGE_SIDE)
    assert (folder / "huge [20k].png").stat().st_size < 200_000
    write_files(folder, {"small.png": png_bytes(random_rgb(7))})
    runner = textwrap.dedent(
        """
        import re, sys
        from pathlib import Path
        from rptui.cli import main
        code = main(sys.argv[1:])
        # VmHWM: this program's own peak (ru_maxrss would carry over the forking parent's)
        status = Path("/proc/self/status").read_text()
        print("MAXRSS_KB", re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
        sys.exit(code)
        """
    )
    words = ["--workspace", str(tmp_path / "ws"), "dataset", "create", str(folder), "big"]
    done = subprocess.run(
        [sys.executable, "-c", runner, *words], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    refused = [line for line in lines if "huge [20k].png" in line]
    assert len(refused) == 1 and "too large" in refused[0] and "20000x20000" in refused[0]
    rss_mb = int(lines[-1].split()[1]) / 1024
    assert rss_mb < HUGE_RSS_BOUND_MB, f"dataset create peaked at {rss_mb:.0f} MB"
    assert [p.name for p in (tmp_path / "ws" / "datasets" / "big").iterdir()] == ["small.png"]


# --- segment ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models ü")
    path = folder / "random [weights].pt"
    save_model(path, snapshot_from_model(UNetGNRes(), version=1))
    return path


def test_segment_writes_good_masks_and_a_row_per_bad_file(
    tmp_path: Path, source: Path, model_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "masks ü"
    table = out / "table [1].csv"
    words = ["--in-process", "segment", str(source), str(out), "--model", str(model_file)]
    code = run_cli(
        tmp_path / "ws", *words, "--no-tta", "--measure", "length", "--table", str(table)
    )
    assert code == 0
    masks = {p.name for p in out.glob("*.png")}
    assert masks == {f"{Path(name).stem}.png" for name in good_images()}
    for name in masks:
        with Image.open(out / name) as mask:
            stem_source = next(p for p in source.iterdir() if p.stem == Path(name).stem)
            with Image.open(stem_source) as image:
                assert mask.size == image.size
    rows = pd.read_csv(table, keep_default_na=False).set_index("file")
    for name, (_, reason) in bad_images().items():
        assert rows.loc[name, "error"] != "", f"no error for {name}"
        assert reason in rows.loc[name, "error"]
    for name in good_images():
        assert rows.loc[name, "error"] == ""
    printed = capsys.readouterr().out
    assert all(f"failed {source / name}" in printed for name in bad_images())


@pytest.fixture()
def bad_models(tmp_path: Path, model_file: Path) -> dict[str, tuple[Path, str]]:
    """Model files that must be refused, each with the words its error holds."""
    folder = tmp_path / "bad models [x]"
    folder.mkdir()
    corrupt = folder / "corrupt ü.pt"
    corrupt.write_bytes(model_file.read_bytes()[:3000])
    wrong = folder / "000003_1700000000.pkl"
    state = {k: v for k, v in UNetGNRes().state_dict().items() if not k.startswith("up1")}
    state["down1.conv1.0.weight"] = torch.zeros(8, 64, 3, 3)
    torch.save(state, wrong)
    payload = folder / "000004_1700000000.pkl"
    payload.write_bytes(pickle.dumps(_Payload(tmp_path / "payload ran"), protocol=2))
    ours_with_payload = folder / "payload model.pt"
    torch.save({"format": "rptui-model", "state_dict": _Payload(tmp_path / "payload ran")},
               ours_with_payload)  # fmt: skip
    return {
        "corrupt": (corrupt, "not a readable model file"),
        "wrong architecture": (wrong, "do not fit the U-Net"),
        "pickle payload": (payload, "refused"),
        "payload in our format": (ours_with_payload, "refused"),
    }


class _Payload:
    """Creates a marker file when unpickled, as a malicious model file would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch '{self.marker}'",)


@pytest.mark.parametrize(
    "kind", ["corrupt", "wrong architecture", "pickle payload", "payload in our format"]
)
def test_bad_model_files_are_one_line_errors_naming_the_file(
    tmp_path: Path,
    source: Path,
    bad_models: dict[str, tuple[Path, str]],
    kind: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, reason = bad_models[kind]
    workspace = tmp_path / "ws"
    out = tmp_path / "masks"
    words = ["--in-process", "segment", str(source), str(out), "--model", str(path)]
    assert run_cli(workspace, *words) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and path.name in err and reason in err
    assert run_cli(workspace, "dataset", "create", str(source), "d") == 0
    capsys.readouterr()
    create = ["project", "create", "p", "--dataset", "d", "--model", str(path)]
    assert run_cli(workspace, *create) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and path.name in err and reason in err
    assert not (workspace / "projects" / "p").exists()
    assert not (tmp_path / "payload ran").exists(), "the payload ran"


# --- measure ---------------------------------------------------------------------------------
def test_measure_measures_good_masks_and_names_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "masks [ü]"
    mask = np.zeros((40, 40), np.uint8)
    mask[20, 5:35] = 1
    write_files(
        folder,
        {
            "good 根.png": encode_mask(mask, fmt="png"),
            "rootpainter (rgba).png": encode_mask(mask, fmt="rootpainter"),
            "one pixel.png": png_bytes(np.full((1, 1), 255, np.uint8)),
            **{name: data for name, (data, _) in bad_images().items()},
        },
    )
    table = tmp_path / "t.csv"
    assert run_cli(tmp_path / "ws", "measure", str(folder), "-o", str(table)) == 0
    rows = pd.read_csv(table, keep_default_na=False).set_index("file")
    assert rows.loc["good 根.png", "error"] == ""
    length = float(rows.loc["good 根.png", "length_px"])
    assert length == pytest.approx(30, abs=3)
    assert float(rows.loc["rootpainter (rgba).png", "length_px"]) == length
    assert rows.loc["one pixel.png", "error"] == ""
    printed = capsys.readouterr().out
    for name in bad_images():
        assert rows.loc[name, "error"] != ""
        assert f"failed {name}" in printed
