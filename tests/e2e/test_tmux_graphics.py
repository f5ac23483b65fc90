"""Inside tmux, pictures need passthrough: what `rptui doctor` finds in a real tmux pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

WAIT_S = 60.0


def _doctor_in_tmux(tmp_path: Path, passthrough: bool, *options: str) -> str:
    """``rptui [options] doctor`` in a pane of a private tmux server; what the pane shows."""
    socket = f"rptui-doctor-{uuid.uuid4().hex[:8]}"
    gate = tmp_path / f"gate-{socket}"
    rptui = " ".join([sys.executable, "-m", "rptui.cli", *options, "doctor"])
    shell = f"while [ ! -e {gate} ]; do sleep 0.05; done; {rptui}; sleep {WAIT_S:.0f}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_CURRENT_TEST", "TMUX")}
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "s", "-x", "150", "-y", "30", shell], check=True, env=env
    )
    try:
        if passthrough:
            subprocess.run([*tmux, "set-option", "-g", "allow-passthrough", "on"], check=True)
        gate.touch()
        deadline = time.monotonic() + WAIT_S
        while True:
            shown = subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-t", "s"], capture_output=True, text=True
            ).stdout
            if "tmux:" in shown:  # the last line doctor prints in tmux
                return shown
            assert time.monotonic() < deadline, f"rptui doctor did not finish: {shown!r}"
            time.sleep(0.1)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_without_passthrough_tmux_gets_half_blocks_and_the_setting_to_change(
    tmp_path: Path,
) -> None:
    output = _doctor_in_tmux(tmp_path, passthrough=False)
    assert "graphics: half blocks (two pixels per cell): in tmux, graphics need" in output
    assert "set -g allow-passthrough on" in output


def test_with_passthrough_a_forced_path_goes_through_tmux(tmp_path: Path) -> None:
    output = _doctor_in_tmux(tmp_path, True, "--graphics", "kitty")
    assert "graphics: kitty through tmux, true pixels" in output
    assert "tmux: allow-passthrough on" in output
    unknown = _doctor_in_tmux(tmp_path, passthrough=True)  # no client terminal to go by
    assert "graphics: half blocks (two pixels per cell): tmux runs in" in unknown
    assert "--graphics kitty|sixel forces a path" in unknown
