"""A real two-node Ray cluster on this machine's loopback, for tests and measurements.

The head is started as the embedded head is (``ray start --head --block``, loopback,
token auth, a private temp dir, ports of its own); the second node joins it with
``ray start --address`` (:mod:`two_nodes_join`), its own temp dir, working directory and
``HOME``, a ``worker_node`` resource and two declared GPUs that do not exist. Every
Python process of the second node runs the file-access guard of ``two_nodes_guard``.
Each node runs in a session of its own, so stopping it ends all of its processes and
no other Ray on the host.

Run as a script to measure: ``python -m tests.cluster_tests.two_nodes_cluster ROOT --
COMMAND...`` starts the cluster under ROOT, runs COMMAND with ``RAY_ADDRESS`` and the
token set, prints the wall time and stops the cluster.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cluster.head.embedded import session_pids, stop_session
from cluster.head.head_files import ensure_token
from cluster.head.launch import LOOPBACK, PORT_FLAGS, LaunchSpec, free_port, port_open
from cluster.head.private_dirs import make_private_child

HERE = Path(__file__).resolve().parent
JOIN_SCRIPT = HERE / "two_nodes_join.py"
GUARD_DIR = HERE / "two_nodes_guard"
WORKER_RESOURCE = "worker_node"
WORKER_CPUS = 2
WORKER_GPUS = 2
HEAD_CPUS = 1
STORE_BYTES = 150 * 1024**2
NODE_UP_LINE = "This command will now block"  # what `ray start --block` prints once up
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOSS_CHECKS = 3  # failed health checks before the head declares a node lost
HEAD_ONLY_FLAGS = ("port", "dashboard-port")
RAY_AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_TOKEN")


@dataclass
class TwoNodes:
    """A running two-node cluster and where its pieces are."""

    root: Path
    address: str = ""
    token: Path = Path()
    worker_home: Path = Path()
    guard_log: Path = Path()
    temp_dirs: list[Path] = field(default_factory=list)  # the head's, then each worker's
    guarded: list[Path] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)  # session leaders: head, worker

    @property
    def head_temp(self) -> Path:
        return self.temp_dirs[0]

    def driver_environment(self) -> dict[str, str]:
        """What a driver needs to join: the token (``--address`` is given separately)."""
        env = clean_environment()
        env.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token)})
        return env

    def worker_logs(self) -> list[Path]:
        """The Ray worker log files of every worker node."""
        return _log_files(self.temp_dirs[1:])

    def head_logs(self) -> list[Path]:
        return _log_files(self.temp_dirs[:1])


def _log_files(temp_dirs: list[Path]) -> list[Path]:
    """Each Ray worker log file under ``temp_dirs`` once (``session_latest`` is a link to
    the newest session)."""
    found = {path.resolve() for d in temp_dirs for path in d.glob("session_*/logs/worker-*")}
    return sorted(found)


def clean_environment() -> dict[str, str]:
    """This process's environment without any Ray address, token or loopback setting."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in RAY_AUTH_VARIABLES
        and key not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    }


def _node_environment(token: Path) -> dict[str, str]:
    from cluster.head.launch import head_environment

    return {**clean_environment(), **head_environment(token)}


def _launch(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> int:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
            cwd=cwd,
        )
    return process.pid


def start(nodes: TwoNodes, *, guarded: list[Path], loss_check_s: float | None = None) -> TwoNodes:
    """Start the head and the second node under ``nodes.root``; ``guarded`` are the
    folders the second node's processes may not touch; ``loss_check_s``: how soon the
    head notices a lost node (Ray's default: about 15 s). Call :func:`stop` whatever
    happens (what started is recorded in ``nodes`` as it starts)."""
    root = nodes.root
    nodes.guarded = guarded
    nodes.temp_dirs = [make_private_child(f"two-nodes-{uuid.uuid4().hex[:8]}-head")]
    nodes.token = ensure_token(root / "cluster")
    ports = {flag: free_port() for flag in PORT_FLAGS}
    spec = LaunchSpec(
        workspace=str(root),
        state_dir=str(root / "cluster"),
        temp_dir=str(nodes.head_temp),
        token_path=str(nodes.token),
        num_cpus=HEAD_CPUS,
        num_gpus=0,
        object_store_memory=STORE_BYTES,
        dashboard=False,
        idle_timeout_s=0.0,
        idle_check_s=0.0,
        ports=ports,
    )
    nodes.address = f"{LOOPBACK}:{ports['port']}"
    head_log = root / "cluster" / "head.log"
    env = _node_environment(nodes.token)
    if loss_check_s is not None:  # the GCS checks each node every period, gives up after N
        period_ms = max(100, int(loss_check_s * 1000 / LOSS_CHECKS))
        env["RAY_health_check_period_ms"] = str(period_ms)
        env["RAY_health_check_timeout_ms"] = str(period_ms)
        env["RAY_health_check_failure_threshold"] = str(LOSS_CHECKS)
    pid = _launch(spec.ray_start_command(), env, root / "cluster", head_log)
    nodes.sessions.append(pid)
    _wait_up_pid(head_log, pid, "head")
    if not port_open(LOOPBACK, ports["port"]):
        raise RuntimeError("the head's GCS does not answer")
    nodes.worker_home = root / "worker-home"
    nodes.worker_home.mkdir(exist_ok=True)
    nodes.guard_log = root / "guard.log"
    add_worker(nodes)
    return nodes


def add_worker(nodes: TwoNodes) -> int:
    """Start a worker node (another, after a loss) and return its session id."""
    index = len(nodes.temp_dirs)
    nodes.temp_dirs.append(make_private_child(f"two-nodes-{uuid.uuid4().hex[:8]}-worker"))
    worker_env = {
        **_node_environment(nodes.token),
        "HOME": str(nodes.worker_home),
        "PYTHONPATH": str(GUARD_DIR),
        "RPTUI_GUARD_ROOTS": os.pathsep.join(str(path.resolve()) for path in nodes.guarded),
        "RPTUI_GUARD_LOG": str(nodes.guard_log),
    }
    command = [sys.executable, str(JOIN_SCRIPT), "start", "--block"]
    command += [f"--address={nodes.address}", f"--node-ip-address={LOOPBACK}"]
    command += [f"--temp-dir={nodes.temp_dirs[-1]}", f"--num-cpus={WORKER_CPUS}"]
    command += [f"--num-gpus={WORKER_GPUS}", f'--resources={{"{WORKER_RESOURCE}": 1}}']
    command += [f"--object-store-memory={STORE_BYTES}", "--disable-usage-stats"]
    command += ["--include-log-monitor=false"]
    command += [f"--{flag}={free_port()}" for flag in PORT_FLAGS if flag not in HEAD_ONLY_FLAGS]
    worker_log = nodes.root / "cluster" / f"worker{index}.log"
    pid = _launch(command, worker_env, nodes.worker_home, worker_log)
    nodes.sessions.append(pid)
    _wait_up_pid(worker_log, pid, "worker node")
    return pid


def kill_worker(nodes: TwoNodes) -> float:
    """Kill the newest worker node at once, every process of it (a machine lost); the
    time it happened (``time.monotonic``)."""
    session = nodes.sessions[-1]
    for pid in session_pids(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    with contextlib.suppress(ChildProcessError):
        os.waitpid(session, 0)
    nodes.sessions.remove(session)
    return killed


def _wait_up_pid(log: Path, pid: int, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if NODE_UP_LINE in log.read_text(errors="replace"):
                return
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"the {what} did not start:\n{tail}")


def stop(nodes: TwoNodes) -> None:
    """End every node (the workers first) and remove their temp dirs."""
    for session in reversed(nodes.sessions):
        stop_session(session, timeout_s=STOP_TIMEOUT_S)
    for path in nodes.temp_dirs:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def running(
    root: Path, *, guarded: list[Path], loss_check_s: float | None = None
) -> Iterator[TwoNodes]:
    """:func:`start`, then :func:`stop` on the way out, even on failure."""
    nodes = TwoNodes(root=root)
    try:
        yield start(nodes, guarded=guarded, loss_check_s=loss_check_s)
    finally:
        stop(nodes)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m tests.cluster_tests.two_nodes_cluster ROOT -- COMMAND...")
        return 2
    root = Path(argv[0]).resolve()
    (root / "cluster").mkdir(parents=True, exist_ok=True)
    with running(root, guarded=[]) as nodes:
        env = {**nodes.driver_environment(), "RAY_ADDRESS": nodes.address}
        started = time.monotonic()
        status = subprocess.call(argv[2:], env=env)
        print(f"two-node command: {time.monotonic() - started:.1f} s, exit {status}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
