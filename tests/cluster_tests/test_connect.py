"""The embedded per-workspace Ray head and connecting to Ray (real Ray, small heads)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.head.connect import ConnectError, connect, namespace_for
from cluster.head.embedded import find_head, session_pids, start_embedded, stop
from cluster.head.head_files import HEAD_FILE, HeadInfo, state_dir
from cluster.head.launch import HeadOptions, free_port
from cluster.head.status import status

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("no_ray_driver")]

SMALL_STORE = 80 * 1024**2
SUBPROCESS_TIMEOUT_S = 90
LOOPBACK_PREFIXES = ("127.", "[::1]", "[::ffff:127.", "::1")

# A second process: connect to the workspace's head through the public entry point.
DRIVER = """
import json, os, sys, time
from pathlib import Path
import ray
from cluster.head.connect import connect, namespace_for
from cluster.head.embedded import HeadOptions
from cluster.head.status import touch_activity

workspace, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "linger":  # the app: starts the head if needed, then stays connected
    connection = connect(workspace, head_options=HeadOptions(
        num_cpus=1, object_store_memory=80 * 2**20,
        idle_timeout_s=float(sys.argv[3]), idle_check_s=0.5,
    ))
    print("CONNECTED", flush=True)
    time.sleep(600)
connection = connect(workspace, start=False)

@ray.remote(num_cpus=0)
class Keeper:
    def __init__(self, note):
        self.note = note
    def read(self):
        return self.note, os.getpid()

if mode == "create":
    keeper = Keeper.options(name="keeper", lifetime="detached", get_if_exists=True)
    note, pid = ray.get(keeper.remote("painted by the first process").read.remote())
    touch_activity()
elif mode == "find":
    note, pid = ray.get(ray.get_actor("keeper").read.remote())
else:
    raise SystemExit(f"unknown mode {mode}")
result = {
    "address": connection.address,
    "namespace": ray.get_runtime_context().namespace,
    "expected_namespace": namespace_for(workspace),
    "note": note,
    "actor_pid": pid,
}
print("RESULT " + json.dumps(result))
"""


def run_driver(workspace: Path, *args: str) -> tuple[dict[str, object], str]:
    """Run DRIVER in a fresh interpreter; return its result and everything else it printed."""
    import json

    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env={k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    result = [line for line in lines if line.startswith("RESULT ")]
    assert len(result) == 1, done.stdout
    others = [line for line in lines if not line.startswith("RESULT ")]
    return json.loads(result[0].removeprefix("RESULT ")), "\n".join(others) + done.stderr


def listening_sockets(pids: set[int]) -> list[str]:
    """Local addresses of TCP sockets that the given processes listen on."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        owners = {int(part.split(",")[0]) for part in line.split("pid=")[1:]}
        if owners & pids:
            found.append(line.split()[3])
    return found


def wait_until(condition: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace whose head runs for the whole module, with a keeper actor on it."""
    root = tmp_path_factory.mktemp("ws")
    start_embedded(root, HeadOptions(num_cpus=1, object_store_memory=SMALL_STORE))
    try:
        yield root
    finally:
        stop(root)


@pytest.fixture(scope="module")
def created(workspace: Path) -> tuple[dict[str, object], str]:
    """The first process: creates a named detached actor, then exits."""
    return run_driver(workspace, "create")


def test_head_listens_on_loopback_only(workspace: Path) -> None:
    head = find_head(workspace)
    assert head is not None
    addresses = listening_sockets(set(session_pids(head.supervisor_pid)))
    assert any(address.endswith(f":{head.port}") for address in addresses)
    assert len(addresses) >= 2  # at least the GCS and the raylet
    outside = [a for a in addresses if not a.startswith(LOOPBACK_PREFIXES)]
    assert not outside, f"the head listens beyond loopback: {outside}"


def test_gcs_refuses_a_wrong_token(workspace: Path, tmp_path: Path) -> None:
    head = find_head(workspace)
    assert head is not None
    probe = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from cluster.head.status import gcs_client, node_resources
        try:
            print(node_resources(gcs_client(sys.argv[1], Path(sys.argv[2]))))
        except Exception as error:
            print("REFUSED", type(error).__name__, error)
        """
    )
    wrong = tmp_path / "wrong_token"
    wrong.write_text("0" * 64)
    answers = {}
    for name, token in (("right", state_dir(workspace) / "auth_token"), ("wrong", wrong)):
        done = subprocess.run(
            [sys.executable, "-c", probe, head.address, str(token)],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )
        answers[name] = done.stdout
    assert "CPU" in answers["right"]
    assert answers["wrong"].startswith("REFUSED"), answers["wrong"]
    assert "auth" in answers["wrong"].lower() or "token" in answers["wrong"].lower()


def test_second_process_finds_the_first_ones_actor(
    workspace: Path, created: tuple[dict[str, object], str]
) -> None:
    first, first_noise = created
    second, second_noise = run_driver(workspace, "find")
    assert first["namespace"] == first["expected_namespace"] == namespace_for(workspace)
    assert second["namespace"] == first["namespace"]
    assert second["address"] == first["address"]
    assert second["note"] == "painted by the first process"
    assert second["actor_pid"] == first["actor_pid"]  # the same actor, not a new one
    # Nothing Ray prints reaches the driver's terminal.
    assert first_noise.strip() == "" and second_noise.strip() == "", first_noise + second_noise


def test_status_shows_the_head_and_what_runs_on_it(
    workspace: Path, created: tuple[dict[str, object], str]
) -> None:
    report = status(workspace, namespace=namespace_for(workspace))
    assert report is not None
    assert report.address == created[0]["address"]
    assert report.resources["CPU"] == 1.0
    assert 0 < report.uptime_s < 600
    keeper = [actor for actor in report.actors if actor.name == "keeper"]
    assert len(keeper) == 1 and keeper[0].state == "ALIVE" and keeper[0].detached
    assert keeper[0].pid == created[0]["actor_pid"]
    assert report.last_activity > report.head.started_at  # the driver's heartbeat
    text = "\n".join(report.lines())
    assert report.address in text and "keeper (Keeper) alive" in text and "CPU 1" in text
    assert status(workspace, namespace="someone-else").actors == []
    assert "RAY_AUTH_MODE" not in os.environ  # status leaves this process as it was


def test_second_start_reuses_the_running_head(workspace: Path) -> None:
    head = find_head(workspace)
    assert start_embedded(workspace) == head


def test_no_head_and_no_start_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectError, match="no embedded Ray"):
        connect(tmp_path, start=False)
    assert status(tmp_path) is None
    assert stop(tmp_path) is False


@pytest.mark.parametrize("via_env", [False, True])
def test_unreachable_address_fails_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via_env: bool
) -> None:
    address = f"127.0.0.1:{free_port()}"
    if via_env:
        monkeypatch.setenv("RAY_ADDRESS", address)
    started = time.monotonic()
    with pytest.raises(ConnectError, match=f"cannot reach Ray at {address}: connection refused"):
        connect(tmp_path, None if via_env else address)
    assert time.monotonic() - started < 15
    assert not (state_dir(tmp_path) / HEAD_FILE).exists()  # no embedded head started


def test_address_that_is_no_ray_fails_within_15_s(tmp_path: Path) -> None:
    # Unroutable here, or (behind a proxy that accepts every connection) not a Ray GCS.
    started = time.monotonic()
    with pytest.raises(ConnectError, match=r"10\.255\.255\.1:6379"):
        connect(tmp_path, "10.255.255.1:6379")
    assert time.monotonic() - started < 15


def test_stop_ends_its_head_only(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine_head = start_embedded(mine, HeadOptions(num_cpus=1, object_store_memory=SMALL_STORE))
    other_head = start_embedded(other, HeadOptions(num_cpus=1, object_store_memory=SMALL_STORE))
    try:
        other_pids = set(session_pids(other_head.supervisor_pid))
        assert mine_head.address != other_head.address
        assert namespace_for(mine) != namespace_for(other)
        assert stop(mine) is True
        assert session_pids(mine_head.supervisor_pid) == []
        assert not Path(mine_head.temp_dir).exists()
        assert status(mine) is None
        assert set(session_pids(other_head.supervisor_pid)) == other_pids
        other_status = status(other)
        assert other_status is not None and other_status.resources["CPU"] == 1.0
    finally:
        stop(other)
    assert session_pids(other_head.supervisor_pid) == []


def test_head_outlives_its_app_and_stops_itself_when_idle(tmp_path: Path) -> None:
    idle_timeout_s = 3.0
    app = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path), "linger", str(idle_timeout_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
    )
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "CONNECTED"
        head = find_head(tmp_path)
        assert head is not None
        time.sleep(idle_timeout_s + 2)
        assert find_head(tmp_path) == head  # a connected app keeps it up
        app.kill()  # the SSH session drops
        app.wait()
        time.sleep(0.5)
        assert find_head(tmp_path) == head  # training would go on
        # With no client and no heartbeat it stops itself and cleans up.
        assert wait_until(lambda: not session_pids(head.supervisor_pid), 30)
        assert find_head(tmp_path) is None
        assert not (state_dir(tmp_path) / HEAD_FILE).exists()
        assert not Path(head.temp_dir).exists()
    finally:
        app.kill()
        app.wait()
        stop(tmp_path)


def test_divert_native_stderr_keeps_the_terminal_for_the_app(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from cluster.head.connect import divert_native_stderr
        divert_native_stderr(Path(sys.argv[1]))
        os.write(2, b"native warning from C++\\n")
        sys.__stderr__.write("frame drawn by the app\\n")
        sys.__stderr__.flush()
        """
    )
    log = tmp_path / "logs" / "native.log"
    done = subprocess.run(
        [sys.executable, "-c", script, str(log)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "frame drawn by the app" in done.stderr
    assert "native warning" not in done.stderr
    assert "native warning from C++" in log.read_text()


def test_a_crashed_heads_record_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = HeadInfo(
        address=f"127.0.0.1:{free_port()}",
        supervisor_pid=gone.pid,
        ray_pid=gone.pid,
        temp_dir=str(tmp_path / "tmp"),
        log_dir=str(tmp_path / "logs"),
        started_at=time.time() - 60,
        num_cpus=1,
        idle_timeout_s=3600.0,
        ports={},
    )
    state_dir(tmp_path).mkdir(parents=True)
    (state_dir(tmp_path) / HEAD_FILE).write_text(stale.to_json())
    assert find_head(tmp_path) is None
    assert not (state_dir(tmp_path) / HEAD_FILE).exists()
    assert status(tmp_path) is None
    with pytest.raises(ConnectError, match="no embedded Ray"):
        connect(tmp_path, start=False)
