"""Atomic writes: a writer killed at any moment leaves every file whole."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cluster.io.atomic import (
    remove_stale_temp_files,
    write_bytes_atomic,
    write_json_atomic,
    write_png_atomic,
)

KILLS = 30

# The child writes two versions of a big PNG and of a big JSON, alternately, forever.
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cluster.io.atomic import write_bytes_atomic

    refs, out = Path(sys.argv[1]), Path(sys.argv[2])
    payloads = {
        name: [(refs / f"{name}.{v}").read_bytes() for v in (0, 1)]
        for name in ("mask.png", "project.json")
    }
    version = 0
    while True:
        for name, versions in payloads.items():
            write_bytes_atomic(out / name, versions[version])
        if version == 0:
            sys.stdout.write("ready\\n")
            sys.stdout.flush()
        version = 1 - version
    """
)


def _noise_png(seed: int, size: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def _big_json(seed: int) -> bytes:
    rng = random.Random(seed)
    obj = {"images": [f"image_{rng.getrandbits(64):016x}.png" for _ in range(60_000)]}
    return json.dumps(obj).encode()


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_files_stay_whole_when_the_writer_is_killed_mid_save(tmp_path: Path) -> None:
    refs, out = tmp_path / "refs", tmp_path / "out"
    refs.mkdir()
    out.mkdir()
    expected = {
        "mask.png": [_noise_png(0, 1100), _noise_png(1, 900)],  # ~3.6 MB and ~2.4 MB
        "project.json": [_big_json(0), _big_json(1)],  # ~2 MB each
    }
    for name, versions in expected.items():
        for v, data in enumerate(versions):
            (refs / f"{name}.{v}").write_bytes(data)
    rng = random.Random(42)
    killed_mid_write = 0
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(refs), str(out)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        for name, versions in expected.items():
            data = (out / name).read_bytes()
            assert data in versions, f"{name} is neither the old nor the new content"
        Image.open(out / "mask.png").load()
        json.loads((out / "project.json").read_bytes())
        leftovers = _temp_files(out)
        assert len(leftovers) <= 1, "only the write in flight may leave a temporary file"
        killed_mid_write += len(leftovers)
        remove_stale_temp_files(out, older_than=0)  # what opening a project does
        assert _temp_files(out) == []
    # The kills must land inside writes too, or the test proves nothing.
    assert killed_mid_write >= 3, f"only {killed_mid_write} of {KILLS} kills hit a write"


def test_failed_write_keeps_old_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "annotation.png"
    write_bytes_atomic(target, b"old")
    with pytest.raises(TypeError):
        write_bytes_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert _temp_files(tmp_path) == []


def test_json_and_png_round_trip_and_create_folders(tmp_path: Path) -> None:
    obj = {"b": [1, 2], "a": "ü"}
    write_json_atomic(tmp_path / "deep" / "x.json", obj)
    assert json.loads((tmp_path / "deep" / "x.json").read_text("utf-8")) == obj
    mask = np.zeros((5, 7), np.uint8)
    mask[2, 3] = 255
    write_png_atomic(tmp_path / "m.png", mask)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "m.png")), mask)


def test_stale_temp_cleanup_spares_fresh_and_foreign_files(tmp_path: Path) -> None:
    old = tmp_path / ".a.png.xyz.tmp"
    fresh = tmp_path / ".b.png.abc.tmp"
    foreign = tmp_path / "notes.tmp"
    for path in (old, fresh, foreign):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert remove_stale_temp_files(tmp_path) == [old]
    assert fresh.exists() and foreign.exists()


def test_new_files_are_readable_by_others_and_replaced_files_keep_their_mode(
    tmp_path: Path,
) -> None:
    write_bytes_atomic(tmp_path / "new.png", b"x")
    (tmp_path / "plain.png").write_bytes(b"x")  # as any other program creates files
    mode = (tmp_path / "plain.png").stat().st_mode & 0o777
    assert (tmp_path / "new.png").stat().st_mode & 0o777 == mode
    private = tmp_path / "private.json"
    private.write_bytes(b"{}")
    private.chmod(0o600)
    write_json_atomic(private, {"a": 1})
    assert private.stat().st_mode & 0o777 == 0o600
