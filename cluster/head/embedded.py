"""The embedded Ray: one background Ray head per workspace, on loopback, with token auth.

``start_embedded`` launches a small supervisor process (``cluster.head.supervisor``)
in its own session; the supervisor runs ``ray start --head --block`` and stops it after a
long idle time. The head's address, pids and paths are recorded in
``<workspace>/.ray/head.json`` so any later process finds it. Everything Ray prints goes
to log files under ``<workspace>/.ray/logs``.

Ray's own temp dir (its sockets and session logs, which Ray makes open to everyone) lies
in a folder private to this user (:mod:`cluster.head.private_dirs`): another account on a
shared machine cannot list it, read the logs or swap the raylet's socket for its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from cluster.head.private_dirs import PRIVATE_MODE, make_private_child, private_parent
from cluster.io.atomic import write_bytes_atomic, write_text_atomic
from cluster.io.processes import pid_alive

logger = logging.getLogger(__name__)

STATE_DIR = ".ray"  # inside the workspace
HEAD_FILE = "head.json"
LAUNCH_FILE = "launch.json"
TOKEN_FILE = "auth_token"
LOCK_FILE = "start.lock"
LOG_DIR = "logs"
SUPERVISOR_LOG = "supervisor.log"
RAY_START_LOG = "ray-start.log"
SUPERVISOR_MODULE = "cluster.head.supervisor"
LOOPBACK = "127.0.0.1"
IDLE_TIMEOUT_S = 2 * 3600.0
IDLE_CHECK_S = 30.0
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
PORT_PROBE_TIMEOUT_S = 1.0
ACTIVITY_KV_NAMESPACE = b"rptui"
ACTIVITY_KV_KEY = b"last_activity"

# Flags of `ray start` that take a port; each gets a free loopback port of its own so the
# head never collides with (or joins) another Ray on the host. (No client server port:
# `ray start` refuses it without the ray[client] extra.)
PORT_FLAGS = (
    "port",
    "node-manager-port",
    "object-manager-port",
    "runtime-env-agent-port",
    "dashboard-agent-grpc-port",
    "dashboard-agent-listen-port",
    "metrics-export-port",
    "dashboard-port",
)


def head_environment(token_path: Path) -> dict[str, str]:
    """Environment variables that keep Ray on loopback with token auth on."""
    return {
        # Off: Ray keeps 127.0.0.1 instead of swapping in the machine's address.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_path),
        "RAY_USAGE_STATS_ENABLED": "0",
        # A one-node head has nowhere to drain to: stop at once when told to.
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
    }


def workspace_key(workspace: Path) -> str:
    """A short stable hash of the resolved workspace path."""
    resolved = str(Path(workspace).expanduser().resolve())
    return hashlib.sha256(resolved.encode()).hexdigest()[:12]


def state_dir(workspace: Path) -> Path:
    return Path(workspace).expanduser().resolve() / STATE_DIR


def token_path(workspace: Path) -> Path:
    return state_dir(workspace) / TOKEN_FILE


def ray_temp_dir(workspace: Path) -> Path:
    """Ray's temp dir of a workspace: short (Unix socket paths are limited to ~107 bytes),
    inside this user's private folder (:mod:`cluster.head.private_dirs`)."""
    return private_parent() / workspace_key(workspace)


def ensure_state_dir(workspace: Path) -> Path:
    """The workspace's ``.ray`` folder (token, head record, logs), closed to other users."""
    directory = state_dir(workspace)
    (directory / LOG_DIR).mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    directory.chmod(PRIVATE_MODE)
    return directory


def ensure_token(workspace: Path) -> Path:
    """The workspace's Ray auth token file (readable by the owner only), made if missing."""
    path = token_path(workspace)
    if not path.exists():
        ensure_state_dir(workspace)
        write_bytes_atomic(path, secrets.token_hex(32).encode(), mode=0o600)
    return path


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout_s: float = PORT_PROBE_TIMEOUT_S) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class HeadInfo:
    """What ``head.json`` records about a running embedded head."""

    address: str  # GCS address, host:port
    supervisor_pid: int  # also the session id of every process of the head
    ray_pid: int  # the `ray start --block` process
    temp_dir: str
    log_dir: str
    started_at: float
    num_cpus: int
    idle_timeout_s: float
    ports: dict[str, int]
    dashboard_url: str | None = None

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> HeadInfo:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class HeadOptions:
    """How a newly started embedded head is sized (a running head is reused as it is)."""

    num_cpus: int | None = None  # None: every core of the machine
    num_gpus: int | None = None  # None: what Ray detects
    object_store_memory: int | None = None  # bytes; None: Ray's default share of memory
    dashboard: bool = False
    idle_timeout_s: float = IDLE_TIMEOUT_S
    idle_check_s: float = IDLE_CHECK_S


@dataclass(frozen=True)
class LaunchSpec:
    """What the supervisor needs to start and watch a head (written to ``launch.json``)."""

    workspace: str
    state_dir: str
    temp_dir: str
    token_path: str
    num_cpus: int
    num_gpus: int | None
    object_store_memory: int | None
    dashboard: bool
    idle_timeout_s: float
    idle_check_s: float
    ports: dict[str, int]

    def ray_start_command(self) -> list[str]:
        """The `ray start` command line for this head."""
        ray = Path(sys.executable).with_name("ray")
        command = [str(ray) if ray.exists() else "ray", "start", "--head", "--block"]
        command += [f"--node-ip-address={LOOPBACK}", f"--temp-dir={self.temp_dir}"]
        command += [f"--{flag}={port}" for flag, port in self.ports.items()]
        command += [f"--num-cpus={self.num_cpus}", "--disable-usage-stats"]
        # Drivers connect with log_to_driver=False: nobody reads what a log monitor sends.
        command.append("--include-log-monitor=false")
        if self.num_gpus is not None:
            command.append(f"--num-gpus={self.num_gpus}")
        if self.object_store_memory is not None:
            command.append(f"--object-store-memory={self.object_store_memory}")
        if self.dashboard:
            command += ["--include-dashboard=true", f"--dashboard-host={LOOPBACK}"]
        else:
            command.append("--include-dashboard=false")
        return command


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


def read_head(workspace: Path) -> HeadInfo | None:
    """The recorded head of a workspace, if any (not checked for liveness)."""
    path = state_dir(workspace) / HEAD_FILE
    try:
        return HeadInfo.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as error:
        logger.warning("ignoring unreadable %s: %s", path, error)
        return None


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
