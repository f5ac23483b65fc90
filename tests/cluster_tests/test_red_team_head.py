"""Red team, another account on the same machine: the embedded Ray's sockets, logs and token.

The attacks run as ``nobody`` through ``setpriv`` (so only where the tests run as root
and the system has a Python for that account); the checks of our own side run anywhere.
Ray opens its temp dir to everyone (0777), so what protects it is the private parent
folder ``<tmp>/rptui-<uid>`` that rptui makes 0700 and checks before every use.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from cluster.head import embedded, head_files, private_dirs
from cluster.head.connect import ConnectError, Connection, connect
from cluster.head.embedded import find_head
from cluster.head.head_files import (
    HeadInfo,
    ensure_state_dir,
    ensure_token,
    ray_temp_dir,
    state_dir,
)
from cluster.head.launch import HeadOptions
from cluster.head.private_dirs import make_private_child, private_parent

NOBODY = 65534
SYSTEM_PYTHON = Path("/usr/bin/python3")
SUBPROCESS_TIMEOUT_S = 60
EXIT_USER_ERROR = 2
STORE = 80 * 1024**2
SHARED_MODE = 0o1777  # like /tmp: everyone may create entries, only owners remove them

# Run as nobody: try each access, print what happened to each as JSON.
PROBE = """
import json, os, socket, sys
outcome = {}
def attempt(name, action):
    try:
        action()
        outcome[name] = "allowed"
    except OSError as error:
        outcome[name] = type(error).__name__
for kind, path in zip(sys.argv[1::2], sys.argv[2::2]):
    if kind == "list":
        attempt(path, lambda: os.listdir(path))
    elif kind == "read":
        attempt(path, lambda: open(path, "rb").read(1))
    elif kind == "connect":
        def dial():
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(path)
        attempt(path, dial)
print(json.dumps(outcome))
"""


def can_switch_user() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None and SYSTEM_PYTHON.exists()


needs_second_user = pytest.mark.skipif(
    not can_switch_user(), reason="needs root, setpriv and /usr/bin/python3 to act as nobody"
)


def as_nobody(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` as the account nobody (uid and gid 65534, no groups)."""
    command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*command, str(SYSTEM_PYTHON), "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )


def probe_as_nobody(*checks: tuple[str, Path]) -> dict[str, str]:
    """What nobody may do: {path: "allowed" or the error's name}."""
    words = [word for kind, path in checks for word in (kind, str(path))]
    done = as_nobody(PROBE, *words)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture()
def shared_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temp folder every account can use, as /tmp is, standing in for it."""
    folder = Path(tempfile.mkdtemp(prefix="rptui-red-team-", dir="/tmp"))
    folder.chmod(SHARED_MODE)
    monkeypatch.setattr(private_dirs, "tempfile", SimpleNamespace(gettempdir=lambda: str(folder)))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def forbid_launch(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fail instead of starting a head: a refused temp folder must stop before that."""
    launched: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        launched.append(args)
        raise AssertionError("a Ray head was launched")

    monkeypatch.setattr(embedded, "subprocess", SimpleNamespace(Popen=refuse))
    return launched


@needs_second_user
def test_a_temp_folder_made_beforehand_by_another_user_is_refused(
    shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hijack: nobody makes the (predictable) temp dir first, open to all."""
    workspace = tmp_path / "ws"
    planted = as_nobody(
        "import os, sys; os.makedirs(sys.argv[1], mode=0o777); os.chmod(sys.argv[1], 0o777)",
        str(ray_temp_dir(workspace)),
    )
    assert planted.returncode == 0, planted.stderr
    launched = forbid_launch(monkeypatch)
    with pytest.raises(ConnectError) as refused:
        connect(workspace)
    message = str(refused.value)
    assert "\n" not in message
    assert str(private_parent()) in message and "nobody" in message
    assert not launched


@needs_second_user
def test_a_link_planted_by_another_user_is_refused(
    shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nobody plants the private folder's name as a link to a folder of their own."""
    workspace = tmp_path / "ws"
    trap = shared_tmp / "trap"
    planted = as_nobody(
        "import os, sys; os.mkdir(sys.argv[1], 0o777); os.chmod(sys.argv[1], 0o777); "
        "os.symlink(sys.argv[1], sys.argv[2])",
        str(trap),
        str(private_parent()),
    )
    assert planted.returncode == 0, planted.stderr
    launched = forbid_launch(monkeypatch)
    with pytest.raises(ConnectError, match="symbolic link"):
        connect(workspace)
    assert not launched and not any(trap.iterdir())


def test_our_own_folder_left_open_to_others_is_refused(
    shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = private_parent()
    parent.mkdir(mode=0o755)
    parent.chmod(0o755)
    launched = forbid_launch(monkeypatch)
    with pytest.raises(ConnectError, match="other users can enter it"):
        connect(tmp_path / "ws")
    assert not launched


def test_a_head_recorded_with_a_temp_dir_elsewhere_is_not_used(
    shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A head.json pointing Ray's sockets at an open folder is refused before connecting."""
    open_dir = shared_tmp / "rptui-open"
    open_dir.mkdir()
    head = HeadInfo(
        address="127.0.0.1:1",
        supervisor_pid=os.getpid(),
        ray_pid=os.getpid(),
        temp_dir=str(open_dir),
        log_dir=str(tmp_path),
        started_at=0.0,
        num_cpus=1,
        idle_timeout_s=1.0,
        ports={},
    )
    monkeypatch.setattr("cluster.head.connect.find_head", lambda workspace: head)
    with pytest.raises(ConnectError, match="outside the private folder"):
        connect(tmp_path / "ws")


@needs_second_user
def test_the_workspace_token_and_head_logs_are_closed_to_other_users(shared_tmp: Path) -> None:
    workspace = shared_tmp / "ws"
    workspace.mkdir()
    workspace.chmod(0o755)  # a workspace others may look into, as a home folder can be
    token = ensure_token(workspace)
    log = ensure_state_dir(workspace) / head_files.LOG_DIR / head_files.SUPERVISOR_LOG
    log.write_text("ray start --head ...\n")  # written with the default umask, as Ray does
    driver_log = workspace / "logs" / "ray-driver.log"
    diverted = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from cluster.head.connect import "
            "divert_native_stderr; divert_native_stderr(Path(sys.argv[1]))",
            str(driver_log),
        ],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert diverted.returncode == 0, diverted.stderr
    outcome = probe_as_nobody(
        ("read", token), ("list", state_dir(workspace)), ("read", log), ("read", driver_log)
    )
    assert set(outcome.values()) == {"PermissionError"}, outcome


@needs_second_user
@pytest.mark.ray
def test_another_user_cannot_reach_the_running_heads_sockets_or_logs(
    ray_session: Connection, _ray_state: object
) -> None:
    workspace: Path = _ray_state.workspace  # type: ignore[attr-defined]
    head = find_head(workspace)
    assert head is not None
    session = Path(head.temp_dir) / "session_latest"
    sockets = sorted((session / "sockets").iterdir())
    logs = sorted(p for p in (session / "logs").iterdir() if p.is_file())
    assert sockets and logs
    assert (Path(head.temp_dir).stat().st_mode & 0o777) == 0o777  # Ray opens its own dir
    checks = [("list", private_parent()), ("list", Path(head.temp_dir))]
    checks += [("connect", path) for path in sockets if path.is_socket()]
    checks += [("read", path) for path in logs[:3]]
    outcome = probe_as_nobody(*checks)
    assert len(outcome) == len(checks)
    assert set(outcome.values()) == {"PermissionError"}, outcome


@pytest.mark.ray
def test_status_of_a_head_whose_gcs_stopped_answering_is_one_line(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    head = embedded.start_embedded(workspace, HeadOptions(num_cpus=1, object_store_memory=STORE))
    try:
        gcs = [
            pid
            for pid in embedded.session_pids(head.supervisor_pid)
            if b"gcs_server" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(gcs) == 1
        os.kill(gcs[0], signal.SIGSTOP)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "rptui.cli", "--workspace", str(workspace), "status"],
                capture_output=True,
                text=True,
                timeout=SUBPROCESS_TIMEOUT_S,
                env={k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
            )
        finally:
            with contextlib.suppress(ProcessLookupError):  # the head may have given up on it
                os.kill(gcs[0], signal.SIGCONT)
    finally:
        embedded.stop(workspace)
    assert done.returncode == EXIT_USER_ERROR, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not answer" in lines[0] and "rptui stop" in lines[0]


def test_the_private_parent_is_made_closed_and_reused(shared_tmp: Path) -> None:
    first, second = make_private_child("one"), make_private_child("two")
    assert first.parent == second.parent == private_parent()
    assert private_parent().stat().st_mode & 0o777 == 0o700
    assert first != second and first.is_dir() and second.is_dir()
    assert make_private_child("one") == first  # a second use is fine
