"""The backend in a child process: calls go through, errors come back, a dead child is news."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from cluster.api import AnnotatedImage, SegmentationRequest, TrainerState
from cluster.backends.isolated import PARENT_CHECK_S, BackendProcessEnded, IsolatedBackend
from cluster.backends.local import LocalBackend
from cluster.io.processes import pid_alive

REPOSITORY = Path(__file__).resolve().parents[2]


def _reaped(pid: int) -> bool:
    """Whether ``pid`` is a zombie (ended, not yet waited for by its new parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


@pytest.fixture(scope="module")
def isolated() -> IsolatedBackend:
    backend = IsolatedBackend(partial(LocalBackend, segment_tile_size=92, tta=False))
    yield backend
    asyncio.run(backend.close())


async def test_calls_reach_the_backend_in_the_child(isolated: IsolatedBackend) -> None:
    assert isolated.pid != os.getpid()
    labels = np.zeros((40, 50), dtype=np.uint8)
    labels[5:9, 5:9] = 2
    image = np.full((40, 50, 3), 100, dtype=np.uint8)
    await isolated.add_annotation(AnnotatedImage("a", image, labels, "train"))
    status = await isolated.status()
    assert status.state == TrainerState.STOPPED
    assert status.n_train == 1

    await isolated.request_segmentation(SegmentationRequest("a", image))
    result = await isolated.segmentation("a", timeout=60)
    assert result is not None and result.name == "a"
    assert result.mask.shape == (40, 50), "the mask comes back at the image's size"
    assert result.model_version >= 1


async def test_an_error_in_the_child_is_raised_in_the_caller(isolated: IsolatedBackend) -> None:
    with pytest.raises(AttributeError, match="no_such_call"):
        await isolated._call("no_such_call")
    assert (await isolated.status()).state == TrainerState.STOPPED, "the child serves on"


async def test_a_killed_child_fails_waiting_and_later_calls_fast() -> None:
    backend = IsolatedBackend(partial(LocalBackend, segment_tile_size=92, tta=False))
    waiting = asyncio.ensure_future(backend.segmentation("never-requested", timeout=30))
    await asyncio.sleep(0.5)
    assert backend.pid is not None
    os.kill(backend.pid, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(BackendProcessEnded):
        await asyncio.wait_for(waiting, 10)
    with pytest.raises(BackendProcessEnded):
        await backend.status()
    assert time.monotonic() - started < 5, "a dead child is reported at once"
    await backend.close()


def test_a_factory_that_fails_raises_in_the_caller() -> None:
    with pytest.raises(FileNotFoundError):
        IsolatedBackend(partial(open, "/no/such/file/anywhere"))


def test_what_the_child_prints_never_reaches_standard_output(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The factory prints (as Ray does) and returns no backend; nothing reaches fd 1.
    backend = IsolatedBackend(partial(subprocess.call, ["echo", "printed-by-the-child"]))
    asyncio.run(backend.close())
    out, err = capfd.readouterr()
    assert "printed-by-the-child" not in out
    assert "printed-by-the-child" in err, "it goes where file descriptor 2 goes (the log)"


def test_a_starting_child_ends_soon_after_its_parent_is_killed(tmp_path: Path) -> None:
    pid_file, errors = tmp_path / "child.pid", tmp_path / "errors.txt"
    with errors.open("w") as errors_file:  # the child writes there too
        parent = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster_tests.slow_backend", str(pid_file)],
            cwd=REPOSITORY,
            stderr=errors_file,
        )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and parent.poll() is None, "the child never started"
            time.sleep(0.1)
        child = int(pid_file.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        gone_by = time.monotonic() + 5 * PARENT_CHECK_S + 3
        while pid_alive(child) and not _reaped(child):
            assert time.monotonic() < gone_by, "the child kept starting a backend nobody wants"
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert "Traceback" not in errors.read_text()
