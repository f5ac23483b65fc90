"""The whole-project lock an rptui from before leases takes: live locks block (the project
opens read-only, see test_workspace), stale locks are taken over. Apps of this version
lease images instead (test_leases)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rptui.store.lock import LOCK_FILE_NAME, LockHeld, ProjectLock, read_lock


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _write_lock(folder: Path, **fields: object) -> Path:
    path = folder / LOCK_FILE_NAME
    path.write_text(json.dumps(fields))
    return path


def test_second_acquire_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    with ProjectLock(tmp_path) as first:
        on_disk = json.loads((tmp_path / LOCK_FILE_NAME).read_text())
        assert on_disk["host"] == socket.gethostname()
        assert on_disk["pid"] == os.getpid()
        assert abs(on_disk["time"] - time.time()) < 60
        with pytest.raises(LockHeld) as caught:
            ProjectLock(tmp_path).acquire()
        info = caught.value.info
        assert info is not None and info.pid == os.getpid() and info.host == socket.gethostname()
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in str(caught.value)
        assert first.held
    assert not (tmp_path / LOCK_FILE_NAME).exists()
    with ProjectLock(tmp_path):  # free again after release
        pass


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    _write_lock(tmp_path, host=socket.gethostname(), pid=_dead_pid(), time=time.time())
    with ProjectLock(tmp_path) as lock:
        holder = read_lock(tmp_path / LOCK_FILE_NAME)
        assert holder is not None and holder.pid == os.getpid()
        assert lock.still_ours()


def test_reused_pid_is_stale_but_a_live_holder_is_not(tmp_path: Path) -> None:
    # Our own pid, but the lock predates this process: the pid was reused.
    _write_lock(tmp_path, host=socket.gethostname(), pid=os.getpid(), time=1000.0)
    with ProjectLock(tmp_path):
        pass
    _write_lock(tmp_path, host=socket.gethostname(), pid=os.getpid(), time=time.time())
    with pytest.raises(LockHeld):
        ProjectLock(tmp_path).acquire()


def test_other_host_lock_is_stale_only_when_its_heartbeat_is_old(tmp_path: Path) -> None:
    now = time.time()
    _write_lock(tmp_path, host="elsewhere", pid=1, time=now - 7200, heartbeat=now - 10)
    with pytest.raises(LockHeld) as caught:
        ProjectLock(tmp_path, stale_after=600).acquire()
    assert caught.value.info is not None and caught.value.info.host == "elsewhere"
    _write_lock(tmp_path, host="elsewhere", pid=1, time=now - 7200, heartbeat=now - 3600)
    with ProjectLock(tmp_path, stale_after=600) as lock:
        assert lock.still_ours()


def test_refresh_renews_the_heartbeat(tmp_path: Path) -> None:
    with ProjectLock(tmp_path) as lock:
        before = read_lock(lock.path)
        time.sleep(0.01)
        lock.refresh()
        after = read_lock(lock.path)
        assert before is not None and after is not None
        assert after.heartbeat > before.heartbeat and after.since == before.since


def test_release_never_removes_a_lock_taken_over_by_another_session(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path)
    lock.acquire()
    takeover = {"host": "other", "pid": 99, "time": time.time(), "token": "theirs"}
    (tmp_path / LOCK_FILE_NAME).write_text(json.dumps(takeover))
    lock.release()
    holder = read_lock(tmp_path / LOCK_FILE_NAME)
    assert holder is not None and holder.token == "theirs"


def test_unreadable_lock_blocks_briefly_then_is_taken_over(tmp_path: Path) -> None:
    path = _write_lock(tmp_path)
    path.write_bytes(b"{half a lo")
    with pytest.raises(LockHeld) as caught:
        ProjectLock(tmp_path).acquire()
    assert caught.value.info is None
    os.utime(path, (time.time() - 60, time.time() - 60))
    with ProjectLock(tmp_path) as lock:
        assert lock.still_ours()


RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rptui.store.lock import LockHeld, ProjectLock

    folder, go = Path(sys.argv[1]), Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    try:
        ProjectLock(folder).acquire()
    except LockHeld:
        print("held", flush=True)
    else:
        print("won", flush=True)
        time.sleep(1.0)
    """
)


def test_only_one_of_several_racers_takes_over_a_stale_lock(tmp_path: Path) -> None:
    _write_lock(tmp_path, host=socket.gethostname(), pid=_dead_pid(), time=time.time())
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), str(go)], stdout=subprocess.PIPE
        )
        for _ in range(4)
    ]
    time.sleep(0.5)  # let every racer start and wait
    go.touch()
    results = [racer.communicate(timeout=30)[0].decode().strip() for racer in racers]
    assert sorted(results) == ["held", "held", "held", "won"]


def test_opening_a_workspace_does_not_load_the_network_library() -> None:
    """Processes that only open projects and take their leases start in a blink: the
    project store reads model file names without importing torch (seconds to load)."""
    probe = (
        "import sys, rptui.store.workspace, rptui.store.lock, rptui.store.leases; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
