"""SIGKILL during saves: every annotation and project.json stays whole, one stroke at most lost.

A real child process opens the project (taking its lock), paints one stroke at a time
and saves it the way the app does (the annotation PNG, then ``project.json`` with the
position, the reviewed list and a setting), acknowledging each stroke once all is on
disk. The parent kills it at a random moment, checks the files, and starts the next
child on what the last one left (a stale lock and maybe a temporary file).
"""

from __future__ import annotations

import io
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

from cluster.api import FOREGROUND
from rptui.store.annotation_files import from_png_bytes
from rptui.store.project_config import load_config
from rptui.store.workspace import Workspace

KILLS = 50
MAX_KILLS = 3 * KILLS  # more kills only while none has yet landed inside a write
IMAGES = 3
SIDE = 640  # annotation side: big enough that a kill often lands inside a write
MAX_DELAY_S = 0.3
CHILD_TIMEOUT_S = 60

# A zygote that imports once, then forks one painter per line it reads (the first stroke
# number) and prints the painter's pid; the parent kills the painter, the zygote reaps it.
# Stroke k paints one foreground pixel, unique to k, on image k % IMAGES; the painter
# appends "k" to the ack file once the stroke and project.json are both saved.
ZYGOTE = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from rptui.store.annotation import Annotation
    from rptui.store.annotation_files import from_png_bytes, to_png_bytes
    from rptui.store.workspace import Workspace

    root, name, acks = sys.argv[1], sys.argv[2], sys.argv[3]
    side, images = int(sys.argv[4]), int(sys.argv[5])

    def paint(k):
        project = Workspace(root).open_project(name)
        if project.read_only:
            sys.exit(f"read-only: {project.read_only_reason}")
        ack = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        while True:
            index = k % images
            stem = project.stem(index)
            png = project.load_annotation_png(stem)
            labels = from_png_bytes(png) if png else np.zeros((side, side), np.uint8)
            annotation = Annotation(labels)
            y, x = divmod(k // images, side)
            annotation.paint_point(y, x, radius=0, value=2)
            project.save_annotation_png(stem, None, to_png_bytes(annotation.labels))
            project.config.settings.foreground_brush_size = k % 7
            project.set_position(index, reviewed=True)
            os.write(ack, f"{k}\\n".encode())
            k += 1

    # Warm up (lazy imports, codecs) so that a painter starts painting at once.
    from_png_bytes(to_png_bytes(np.zeros((2, 2), np.uint8)))
    Workspace(root).open_project(name, read_only=True).close()
    print("ready", flush=True)
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                paint(int(line))
            finally:
                os._exit(1)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(status, flush=True)
    """
)


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.tmp") if p.is_file()]


def _new_temp_file(folder: Path, seen: set[Path]) -> bool:
    """Whether a temporary file (a write in flight) exists that no earlier kill left."""
    for directory in (folder, folder / "annotations" / "train", folder / "annotations" / "val"):
        try:
            names = os.listdir(directory)
        except FileNotFoundError:
            continue
        if any(n.endswith(".tmp") and directory / n not in seen for n in names):
            return True
    return False


def _kill_inside_a_write(painter: int, folder: Path, seen: set[Path]) -> None:
    """Kill the painter the moment a new temporary file appears (or after the longest delay)."""
    deadline = time.perf_counter() + MAX_DELAY_S
    while time.perf_counter() < deadline and not _new_temp_file(folder, seen):
        pass
    os.kill(painter, signal.SIGKILL)


def _check(folder: Path, acked: int, stems: list[str]) -> None:
    """Files whole; strokes 0..acked-1 all on disk; none beyond the one in flight."""
    config = load_config(folder / "project.json")
    assert set(config.reviewed) <= set(stems)
    if acked:
        assert {stems[k % IMAGES] for k in range(min(acked, IMAGES))} <= config.reviewed
    painted: dict[str, np.ndarray] = {}
    for split in ("train", "val"):
        for path in (folder / "annotations" / split).glob("*.png"):
            painted[path.stem] = from_png_bytes(path.read_bytes(), expected_shape=(SIDE, SIDE))
    for k in range(acked + 2):
        labels = painted.get(stems[k % IMAGES])
        y, x = divmod(k // IMAGES, SIDE)
        present = labels is not None and labels[y, x] == FOREGROUND
        if k < acked:
            assert present, f"stroke {k} was acknowledged but is lost"
        elif k > acked:
            assert not present, f"stroke {k} appeared before it was painted"
    total = sum(int((labels == FOREGROUND).sum()) for labels in painted.values())
    assert acked <= total <= acked + 1


@pytest.mark.timeout(180)
def test_50_kills_during_saves_lose_at_most_the_stroke_in_flight(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws").ensure()
    images = workspace.dataset_dir("data")
    images.mkdir()
    for seed in range(IMAGES):
        (images / f"image {seed} ü.png").write_bytes(_png(seed))
    project = workspace.create_project("crash [test]", "data", seed=0)
    folder, stems = project.root, [project.stem(i) for i in range(IMAGES)]
    project.close()
    rng = random.Random(7)
    acks = tmp_path / "acks"
    acks.touch()
    words = [str(workspace.root), "crash [test]", str(acks), str(SIDE), str(IMAGES)]
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE, *words],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    acked = 0
    mid_write = 0
    seen: set[Path] = set()  # temporary files left by earlier kills (cleared on open after 60 s)
    started = time.perf_counter()
    assert zygote.stdout.readline() == "ready\n"
    try:
        kills = 0
        while kills < KILLS or (mid_write == 0 and kills < MAX_KILLS):
            zygote.stdin.write(f"{acked}\n")
            zygote.stdin.flush()
            painter = int(zygote.stdout.readline())
            if kills % 2:  # every other kill aims at a write in flight
                _kill_inside_a_write(painter, folder, seen)
            else:
                time.sleep(rng.uniform(0.0, MAX_DELAY_S))
                os.kill(painter, signal.SIGKILL)
            kills += 1
            status = int(zygote.stdout.readline())
            assert os.WIFSIGNALED(status), "the painter stopped before it was killed"
            numbers = [int(word) for word in acks.read_text().split()]
            acks.write_text("")
            if numbers:
                assert numbers == list(range(acked, numbers[-1] + 1))
                acked = numbers[-1] + 1
            left = set(_temp_files(folder)) - seen
            mid_write += bool(left)
            seen |= left
            _check(folder, acked, stems)
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=CHILD_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    # The next open takes over the dead writer's lock and clears its temporary files.
    for path in _temp_files(folder):
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    with Workspace(workspace.root).open_project("crash [test]") as reopened:
        assert not reopened.read_only
        assert min(acked, IMAGES) <= len(reopened.annotated()) <= min(acked + 1, IMAGES)
    assert _temp_files(folder) == []
    assert acked >= KILLS // 2, f"only {acked} strokes in {kills} runs ({elapsed:.0f} s)"
    assert mid_write >= 1, "no kill landed inside a write: the test proved nothing"
