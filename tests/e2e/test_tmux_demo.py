"""The demo in a real terminal (tmux), through the real embedded Ray: paint, accept, on disk."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from cluster.api import FOREGROUND
from rptui.store.annotation_files import from_png_bytes

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

SIZE = 96
COLUMNS, ROWS = 120, 36
STEPS_RIGHT = 6


def _tmux(*words: str) -> str:
    result = subprocess.run(["tmux", *words], capture_output=True, text=True, timeout=30)
    return result.stdout


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.fixture()
def demo_session(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    workspace = tmp_path / "ws"
    session = f"rptui-e2e-{uuid.uuid4().hex[:8]}"
    rptui = Path(sys.executable).with_name("rptui")
    command = (
        f"env COLORTERM=truecolor RPTUI_WORKSPACE={workspace} {rptui} demo --images 8 --size {SIZE}"
    )
    _tmux(
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        str(COLUMNS),
        "-y",
        str(ROWS),
        command,
    )
    try:
        yield session, workspace
    finally:
        _tmux("kill-session", "-t", session)
        subprocess.run(
            [str(rptui), "--workspace", str(workspace), "stop"],
            capture_output=True,
            timeout=60,
            env={**os.environ},
        )


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def test_a_stroke_painted_with_keys_lands_in_the_annotation_file(
    demo_session: tuple[str, Path],
) -> None:
    session, workspace = demo_session
    _wait(lambda: " / 8" in _screen(session), 120, "the annotate screen")
    project_file = workspace / "projects" / "demo" / "project.json"
    config = json.loads(project_file.read_text())
    stem = Path(config["images"][config["position"]]).stem
    _wait(
        lambda: any(f"training: {state}" in _screen(session) for state in ("training", "idle")),
        120,
        "the trainer to start",
    )

    _tmux("send-keys", "-t", session, "q", "d")
    for _ in range(STEPS_RIGHT):
        _tmux("send-keys", "-t", session, "Right")
        time.sleep(0.05)
    _tmux("send-keys", "-t", session, "d", "Enter")

    saved = [
        workspace / "projects" / "demo" / "annotations" / split / f"{stem}.png"
        for split in ("train", "val")
    ]
    _wait(lambda: any(path.is_file() for path in saved), 30, f"the annotation of {stem}")
    path = next(path for path in saved if path.is_file())
    labels = from_png_bytes(path.read_bytes(), expected_shape=(SIZE, SIZE))
    rows, cols = np.nonzero(labels == FOREGROUND)
    centre = SIZE // 2
    assert rows.size > 0, "no foreground painted"
    assert labels[centre, centre] == FOREGROUND, "the stroke starts at the cursor"
    assert cols.max() >= centre + STEPS_RIGHT, "the stroke follows the cursor to the right"
    assert abs(rows - centre).max() <= 8 and cols.min() >= centre - 8, "nothing painted elsewhere"
    assert _screen(session).strip(), "the app is still drawn"


def _annotation_files(workspace: Path) -> list[Path]:
    return sorted((workspace / "projects" / "demo" / "annotations").glob("*/*.png"))


def _trainer_holds(session: str, count: int) -> bool:
    screen = _screen(session)
    found = re.search(r"train (\d+) · val (\d+)", screen)
    running = any(f"training: {state}" in screen for state in ("training", "idle"))
    return running and found is not None and int(found[1]) + int(found[2]) == count


def test_the_app_outlives_its_ray_head_and_syncs_when_ray_is_back(
    demo_session: tuple[str, Path],
) -> None:
    session, workspace = demo_session
    _wait(lambda: " / 8" in _screen(session), 120, "the annotate screen")
    _wait(
        lambda: _trainer_holds(session, len(_annotation_files(workspace))),
        120,
        "the trainer to start with the clear examples",
    )
    before = len(_annotation_files(workspace))

    rptui = Path(sys.executable).with_name("rptui")
    stopped = subprocess.run(
        [str(rptui), "--workspace", str(workspace), "stop"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stopped.returncode == 0, stopped.stderr
    _wait(lambda: "offline" in _screen(session), 60, "the app to say it is offline")

    _tmux("send-keys", "-t", session, "q", "space", "Enter")  # annotate while Ray is gone
    _wait(lambda: len(_annotation_files(workspace)) == before + 1, 30, "the local save")
    _wait(
        lambda: _trainer_holds(session, before + 1),
        180,
        "a new head with the trainer holding every annotation",
    )
    status_line = next(line for line in _screen(session).splitlines() if " / 8 · " in line)
    assert "offline" not in status_line
