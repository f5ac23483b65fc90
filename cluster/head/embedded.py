"""The embedded Ray: one background Ray head per workspace, on loopback, with token auth.

``start_embedded`` launches a small supervisor process (``cluster.head.supervisor``)
in its own session; the supervisor runs ``ray start --head --block`` and stops it after a
long idle time. The head's address, pids and paths are recorded in
``<workspace>/.ray/head.json`` so any later process finds it. Everything Ray prints goes
to log files under ``<workspace>/.ray/logs``.

Ray's own temp dir (its sockets and session logs, which Ray makes open to everyone) lies
in a folder private to this user (:mod:`cluster.head.private_dirs`): another account on a
shared machine cannot list it, read the logs or swap the raylet's socket for its own.

The head's files are :mod:`cluster.head.head_files`; its options and ``ray start``
command :mod:`cluster.head.launch`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from cluster.head.head_files import (
    HEAD_FILE,
    LAUNCH_FILE,
    LOCK_FILE,
    LOG_DIR,
    SUPERVISOR_LOG,
    HeadInfo,
    ensure_state_dir,
    ensure_token,
    read_head,
    state_dir,
    workspace_key,
)
from cluster.head.launch import (
    PORT_FLAGS,
    HeadOptions,
    LaunchSpec,
    free_port,
    head_environment,
    port_open,
)
from cluster.head.private_dirs import make_private_child
from cluster.io.atomic import write_text_atomic
from cluster.io.processes import pid_alive

logger = logging.getLogger(__name__)

SUPERVISOR_MODULE = "cluster.head.supervisor"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
ACTIVITY_KV_NAMESPACE = b"rptui"
ACTIVITY_KV_KEY = b"last_activity"


def is_supervisor(pid: int) -> bool:
    """Whether ``pid`` is alive and is our supervisor (guards against reused pids)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return pid_alive(pid)
    return SUPERVISOR_MODULE.encode() in cmdline


def session_pids(session_id: int) -> list[int]:
    """Live (non-zombie) pids of a session: the head's processes share the supervisor's."""
    pids = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()  # state ppid pgrp session ...
            if fields[0] != "Z" and int(fields[3]) == session_id:
                pids.append(int(entry))
    return sorted(pids)


def find_head(workspace: Path) -> HeadInfo | None:
    """The workspace's running embedded head, or None (a stale record is removed)."""
    head = read_head(workspace)
    if head is None:
        return None
    host, port = head.address.rsplit(":", 1)
    if is_supervisor(head.supervisor_pid) and port_open(host, int(port)):
        return head
    if not is_supervisor(head.supervisor_pid):
        logger.info("removing stale head record (pid %d is gone)", head.supervisor_pid)
        with contextlib.suppress(FileNotFoundError):
            (state_dir(workspace) / HEAD_FILE).unlink()
    return None


@contextlib.contextmanager
def _start_lock(workspace: Path) -> Iterator[None]:
    path = state_dir(workspace) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_embedded(
    workspace: Path,
    options: HeadOptions | None = None,
    *,
    timeout_s: float = START_TIMEOUT_S,
) -> HeadInfo:
    """Return the workspace's running head, starting one in the background if needed.

    Raises:
        UnsafeTempDirError: Ray's temp dir is not private (see :func:`make_private_child`).
        RuntimeError: the head did not come up within ``timeout_s``.
    """
    options = options or HeadOptions()
    with _start_lock(workspace):
        running = find_head(workspace)
        if running is not None:
            return running
        directory = ensure_state_dir(workspace)
        temp_dir = make_private_child(workspace_key(workspace))
        ports = {flag: free_port() for flag in PORT_FLAGS}
        spec = LaunchSpec(
            workspace=str(Path(workspace).expanduser().resolve()),
            state_dir=str(directory),
            temp_dir=str(temp_dir),
            token_path=str(ensure_token(workspace)),
            num_cpus=options.num_cpus or os.cpu_count() or 1,
            num_gpus=options.num_gpus,
            object_store_memory=options.object_store_memory,
            dashboard=options.dashboard,
            idle_timeout_s=options.idle_timeout_s,
            idle_check_s=options.idle_check_s,
            ports=ports,
        )
        write_text_atomic(directory / LAUNCH_FILE, json.dumps(asdict(spec), indent=2))
        started = time.monotonic()
        with open(directory / LOG_DIR / SUPERVISOR_LOG, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", SUPERVISOR_MODULE, str(directory / LAUNCH_FILE)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env={**os.environ, **head_environment(Path(spec.token_path))},
            )
        while time.monotonic() - started < timeout_s:
            head = read_head(workspace)
            if head is not None and head.supervisor_pid == process.pid:
                logger.info("embedded Ray up in %.1f s", time.monotonic() - started)
                return head
            if process.poll() is not None:
                break
            time.sleep(0.1)
        if process.poll() is None:
            stop_session(process.pid)
        raise RuntimeError(
            f"the embedded Ray did not start; see {directory / LOG_DIR / SUPERVISOR_LOG}"
        )


def stop_session(session_id: int, *, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the session leader, wait, then SIGKILL whatever of the session is left."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(session_id, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and session_pids(session_id):
        time.sleep(0.1)
    for pid in session_pids(session_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(session_id, os.WNOHANG)  # reap it when this process started it


def stop(workspace: Path, *, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop the workspace's embedded head and all its processes; False if none ran.

    Only the processes of this head's session are signalled: another Ray on the host,
    or another workspace's head, is left alone.
    """
    head = read_head(workspace)
    if head is None:
        return False
    running = is_supervisor(head.supervisor_pid)
    if running:
        stop_session(head.supervisor_pid, timeout_s=timeout_s)
    with contextlib.suppress(FileNotFoundError):
        (state_dir(workspace) / HEAD_FILE).unlink()
    return running
