"""Two annotators' apps, each a process of its own, on one project and one real-Ray trainer;
one is killed with SIGKILL while it shows an image.

The survivor's accepts still reach the trainer, the dead app's image lease frees at once
(its process is gone from this host) and the survivor is served that image, every accept
made before the kill is in ``project.json``, and nothing prints a traceback.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from cluster.backends.segmenter_actor import segmenter_name
from cluster.backends.trainer_actor import trainer_name
from cluster.head.connect import Connection, namespace_for
from cluster.io.processes import pid_alive
from rptui.store.project_config import PROJECT_FILE_NAME
from tests.rptui_tests.screen_helpers import make_demo_workspace

pytestmark = pytest.mark.ray

REPOSITORY = Path(__file__).resolve().parents[2]
PROJECT = "demo"
N_IMAGES = 8
SIZE = 48
READY_S = 540.0  # both apps import torch and Ray, then join it: minutes on a busy machine
REPLY_S = 90.0
CHILD_END_S = 30.0


class AppProcess:
    """``rptui --annotator NAME open demo`` as a headless process answering in JSON lines."""

    def __init__(self, root: Path, ray_options: list[str], name: str, logs: Path) -> None:
        self.name = name
        self.stderr_path = logs / f"{name}.stderr"
        command = [
            sys.executable,
            "-m",
            "tests.rptui_tests.annotator_process",
            "--workspace",
            str(root),
            *ray_options,
            "--annotator",
            name,
            "open",
            PROJECT,
        ]
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                command,
                cwd=REPOSITORY,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.lines: queue.Queue[str] = queue.Queue()
        self.printed: list[str] = []  # every line of standard output, for the traceback check
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.printed.append(line)
            if line.startswith("{"):
                self.lines.put(line)

    def reply(self, seconds: float = REPLY_S) -> dict[str, object]:
        """The next JSON answer; AssertionError naming the app after ``seconds``."""
        try:
            answer: dict[str, object] = json.loads(self.lines.get(timeout=seconds))
        except queue.Empty:
            raise AssertionError(f"{self.name}'s app did not answer in {seconds:.0f} s") from None
        assert "error" not in answer, f"{self.name}: {answer}"
        return answer

    def ask(self, command: str) -> dict[str, object]:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()
        return self.reply()

    def leased_by_others(self) -> list[object]:
        """The images this app sees another app hold a live lease on."""
        found = self.ask("state")["leased_by_others"]
        assert isinstance(found, list)
        return found

    def kill(self) -> None:
        """SIGKILL, and reap it as its shell would."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def _end_actors(root: Path) -> None:
    """End the project's detached trainer and segmenter that the apps started."""
    import ray

    for name in (trainer_name(PROJECT), segmenter_name(PROJECT)):
        with contextlib.suppress(ValueError):  # never started
            ray.kill(ray.get_actor(name, namespace=namespace_for(root)), no_restart=True)


@pytest.fixture
def apps(ray_session: Connection, tmp_path: Path) -> Iterator[tuple[Path, AppProcess, AppProcess]]:
    """Ana's and Ben's apps on a fresh demo project, joined to the session's Ray."""
    root = tmp_path / "ws"
    make_demo_workspace(root, count=N_IMAGES, size=SIZE)
    joined = ["--address", ray_session.address]
    ana = AppProcess(root, joined, "Ana", tmp_path)
    ben = AppProcess(root, joined, "Ben", tmp_path)
    try:
        yield root, ana, ben
    finally:
        for app in (ana, ben):
            app.kill()
        _end_actors(root)


def _gone(pid: int) -> bool:
    """Whether ``pid`` ended (a zombie left to init counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] == "Z"
    except OSError:
        return not pid_alive(pid)


def test_a_killed_annotator_loses_nothing_and_frees_its_image(
    apps: tuple[Path, AppProcess, AppProcess],
) -> None:
    root, ana, ben = apps
    started = ana.reply(READY_S), ben.reply(READY_S)
    assert all(state["ready"] and state["online"] for state in started), started
    assert started[0]["shown"] != started[1]["shown"]

    accepted: dict[str, str] = {}  # stem -> who accepted it
    for app in (ana, ben, ana, ben):
        answer = app.ask("accept")
        accepted[str(answer["accepted"])] = app.name
    ben_state = ben.ask("state")
    doomed = str(ben_state["shown"])  # the image Ben's app holds when it is killed
    before_kill = ana.ask("wait-annotations 4")  # both apps' accepts train the one trainer
    assert before_kill["trainer_annotations"] == len(accepted) == 4
    assert doomed in ana.leased_by_others()

    ben.kill()
    config_path = root / "projects" / PROJECT / PROJECT_FILE_NAME
    at_kill = json.loads(config_path.read_text())  # whole: it parses
    assert set(at_kill["splits"]) == set(accepted)  # every accept made before the kill
    assert doomed not in ana.leased_by_others()  # its process is gone: free at once
    answer = ana.ask("accept")
    accepted[str(answer["accepted"])] = "Ana"
    assert answer["shown"] == doomed  # Ana is served the image Ben held
    answer = ana.ask("accept")
    accepted[str(answer["accepted"])] = "Ana"
    assert ana.ask("wait-annotations 6")["trainer_annotations"] == 6  # the survivor trains on

    backend_child = ben_state["backend_pid"]
    assert isinstance(backend_child, int)
    deadline = time.monotonic() + CHILD_END_S
    while not _gone(backend_child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _gone(backend_child), "the killed app's Ray driver child lives on"

    assert ana.ask("quit") == {"closed": True}
    assert ana.process.wait(timeout=60) == 0

    config = json.loads(config_path.read_text())
    assert set(config["splits"]) == set(accepted)
    who = {stem: records[-1]["name"] for stem, records in config["annotated_by"].items()}
    assert who == accepted
    project_dir = root / "projects" / PROJECT
    for stem, split in config["splits"].items():
        assert (project_dir / "annotations" / split / f"{stem}.png").is_file(), stem
    assert not list(project_dir.glob("**/*.lease")), "a lease was left behind"
    assert not list(project_dir.glob("**/*.tmp")), "a half-written file was left behind"
    for app in (ana, ben):
        printed = app.stderr() + "".join(app.printed)
        assert "Traceback" not in printed, f"{app.name} printed:\n{printed}"
