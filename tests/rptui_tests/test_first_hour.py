"""What a new user meets first: training with nothing to train on, a workspace that is a
file, a dataset name taken, a text file given as a model, the status of the head, bars."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from cluster.api import BACKGROUND, FOREGROUND, TrainerState, TrainerStatus
from cluster.head.head_files import HeadInfo
from cluster.head.status import ActorInfo, HeadStatus
from cluster.head.trainer_report import TrainerReport
from rptui import progress
from rptui.commands.training import EpochLines
from rptui.store.annotation_files import to_png_bytes
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import DATASET, PROJECT, make_workspace, run_cli

IMAGES = 3
HEIGHT, WIDTH = 40, 56
TRAIN_OPTIONS = ("--tile-size", "108", "--batch-size", "2", "--epoch-tiles", "2")
HEAD_IDLE_TIMEOUT_S = 7200.0


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=IMAGES, height=HEIGHT, width=WIDTH)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# --- train ------------------------------------------------------------------------------------
def test_train_with_nothing_to_train_on_says_how_to_add_annotations(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    assert run_cli(workspace.root, "train", PROJECT, "--seconds", "60") == 2
    assert time.monotonic() - started < 30  # no wait for --seconds, no Ray started
    line = one_error_line(capsys)
    assert "nothing to train on" in line and "0 train / 0 val" in line
    assert f"rptui open {PROJECT}" in line and f"import-masks {PROJECT}" in line
    with workspace.open_project(PROJECT, read_only=True) as project:
        assert project.models() == []  # no random-weights "model #1"


def test_train_prints_a_line_per_epoch_when_stderr_is_no_terminal(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    with workspace.open_project(PROJECT) as project:
        for index in range(2):  # the first goes to validation, the second to training
            labels = np.full((HEIGHT, WIDTH), BACKGROUND, np.uint8)
            labels[:, index::7] = FOREGROUND
            project.save_annotation_png(project.stem(index), None, to_png_bytes(labels))
    words = ("--in-process", "train", PROJECT, "--seconds", "3", *TRAIN_OPTIONS)
    assert run_cli(workspace.root, *words) == 0
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if " · epoch " in line]
    assert lines and lines[0].split(" · ")[0] in ("idle", "training"), err
    assert len(lines) == len(set(lines))  # one line per epoch or state, not one per poll


def test_epoch_lines_follow_epochs_and_states_not_polls() -> None:
    screen = io.StringIO()
    lines = EpochLines(Console(file=screen, width=200))
    polls = [("idle", 0), ("training", 0), ("training", 0), ("training", 1), ("training", 1)]
    for state, epoch in polls:
        lines(TrainerStatus(TrainerState(state), epoch=epoch, n_train=1, n_val=1))
    printed = screen.getvalue().splitlines()
    assert [line.split(" (")[0] for line in printed] == [
        "idle · epoch 0",
        "training · epoch 0",
        "training · epoch 1",
    ]


# --- one-line errors --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "words",
    [("status",), ("project", "list"), ("dataset", "create", ".", "d")],
    ids=" ".join,
)
def test_a_workspace_that_is_a_file_is_named(
    tmp_path: Path, words: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file")
    for root in (not_a_folder, not_a_folder / "ws"):
        assert run_cli(root, *words) == 2
        line = one_error_line(capsys)
        assert f"{not_a_folder} is a file, not a folder" in line and "Errno" not in line


def test_a_dataset_name_taken_says_so(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "photos"
    source.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(source / "a.png")
    assert run_cli(workspace.root, "dataset", "create", str(source), DATASET) == 2
    line = one_error_line(capsys)
    assert f"dataset {DATASET} exists already" in line and "not empty" not in line


def test_a_text_file_given_as_a_model_is_named_plainly(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("hello, these are my notes")
    source = workspace.dataset_dir(DATASET)
    words = ("--in-process", "segment", str(source), str(tmp_path / "out"), "--model", str(text))
    assert run_cli(workspace.root, *words) == 2
    line = one_error_line(capsys)
    assert "notes.pt: not a model file" in line and "(101)" not in line


# --- bars -------------------------------------------------------------------------------------
def _terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """Make progress bars draw into a string as on a terminal."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    monkeypatch.setattr(progress, "Console", lambda **_: console)
    return screen


def test_an_error_before_any_work_leaves_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = _terminal(monkeypatch)
    with pytest.raises(ValueError), progress.progress_bar("segmenting photos"):
        raise ValueError("a mistake found at once")
    assert "segmenting photos" not in screen.getvalue()
    screen = _terminal(monkeypatch)
    with progress.progress_bar("segmenting photos") as bar:
        bar(0, 24)
        bar.say("waiting 15 s for 1 CPU (0 free)")
    assert "0/24" in screen.getvalue() and "waiting 15 s for 1 CPU" in screen.getvalue()


# --- rptui status -----------------------------------------------------------------------------
def _head_status(*, clients: int, trainer_state: str) -> HeadStatus:
    head = HeadInfo(
        address="127.0.0.1:6379", supervisor_pid=11, ray_pid=12, temp_dir="/t", log_dir="/l",
        started_at=time.time() - 600, num_cpus=2, idle_timeout_s=HEAD_IDLE_TIMEOUT_S, ports={},
    )  # fmt: skip
    namespace = "rptui-ws"
    actors = [
        ActorInfo("trainer:sg", namespace, "TrainerActor", "ALIVE", 21, True, {"CPU": 1.0}),
        ActorInfo("segmenter:sg", namespace, "SegmenterActor", "ALIVE", 22, True, {"CPU": 0.5}),
        ActorInfo("old", namespace, "MapWorker", "DEAD", 23, False, {"CPU": 1.0}),
        ActorInfo("datasets_stats_actor", "_dataset_stats", "_StatsActor", "ALIVE", 24, True),
    ]
    report = TrainerReport(
        state=trainer_state, epoch=12, epochs_since_best=3, best_f1=0.853, model_version=4,
        n_train=5, n_val=1, updated=time.time(),
    )  # fmt: skip
    return HeadStatus(
        head=head, uptime_s=600.0, resources={"CPU": 2.0}, clients=clients,
        last_activity=time.time() - 299, actors=actors,
        trainers={(namespace, "trainer:sg"): report},
    )  # fmt: skip


def test_status_says_when_a_trainer_trains_and_hides_finished_actors() -> None:
    lines = _head_status(clients=0, trainer_state="training").lines()
    text = "\n".join(lines)
    assert lines[1].startswith("busy: training (trainer:sg)") and "idle" not in lines[1]
    assert "trainer:sg (TrainerActor) alive, pid 21, CPU 1: training, epoch 12" in text
    assert "model #4 F1 0.853, 5 train / 1 val" in text
    assert "segmenter:sg (SegmenterActor) alive, pid 22, CPU 0.5" in text
    assert "MapWorker" not in text and "_StatsActor" not in text
    assert "(2 finished or Ray's own actor(s) not shown)" in text
    stopped = _head_status(clients=0, trainer_state="stopped").lines()
    assert stopped[1].startswith("idle 4 min 5") and "no client, no training" in stopped[1]
    in_use = _head_status(clients=1, trainer_state="stopped").lines()
    assert in_use[1].startswith("in use, not training")
