"""``rptui models``: the registry of a project's saved models, pins, diffs and pruning."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cluster.api import ModelSnapshot
from cluster.io.model_files import load_model_file
from cluster.io.model_metadata import ANNOTATIONS_VAL, COPY_OF, training_metadata
from rptui.cli import main
from rptui.errors import UserError
from rptui.session.training import ensure_start_model, save_model
from rptui.store.lock import ProjectLock
from rptui.store.models import resolve_model
from rptui.store.project import Project
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import PROJECT, make_workspace

SCALED_LAYER = "conv_out.0"  # model 5 is model 2 with this layer's weights x 1.1
SCALE = 1.1


def _trained(
    start: ModelSnapshot,
    version: int,
    f1: float,
    *,
    momentum: float,
    average: float = 0.0,
    threshold: float | None = None,
) -> ModelSnapshot:
    metadata = training_metadata(
        epoch=version * 3,
        n_train=version + 1,
        n_val=1,
        last_annotation=f"img{version}",
        tile_size=124,
        batch_size=8,
        optimiser="sgd",
        learning_rate=0.01,
        momentum=momentum,
        weight_average=average,
        threshold=threshold,
    )
    return dataclasses.replace(
        start, version=version, f1=f1, parent=str(version - 1), metadata=metadata
    )


def _model_path(project: Project, number: int) -> Path:
    return next(info.path for info in project.models() if info.number == number)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """Project p's models: 1 random start; 2 trained (best F1); 3 a corrupt file;
    4 RootPainter's bare state dict; 5 trained from 2 (layer SCALED_LAYER x SCALE)."""
    workspace = make_workspace(tmp_path / "ws", count=3, height=32, width=32, with_model=True)
    with workspace.open_project(PROJECT) as project:
        start = load_model_file(_model_path(project, 1))
        second = _trained(start, 2, 0.5, momentum=0.9)
        save_model(project, second)
        (project.models_dir / "000003_1700000300.pt").write_bytes(b"not a model at all")
        bare = {key: torch.from_numpy(value) for key, value in start.state_dict.items()}
        torch.save(bare, project.models_dir / "000004_1700000400.pkl")
        state = dict(second.state_dict)
        for key in (f"{SCALED_LAYER}.weight", f"{SCALED_LAYER}.bias"):
            state[key] = state[key] * np.float32(SCALE)
        fifth = _trained(start, 5, 0.45, momentum=0.99, average=0.99, threshold=0.7)
        save_model(project, dataclasses.replace(fifth, state_dict=state))
    return workspace


def _models(workspace: Workspace, *words: str) -> int:
    return main(["--workspace", str(workspace.root), "models", PROJECT, *words])


def _row(out: str, number: int) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [str(number)])


def test_listing_shows_what_each_model_recorded(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _models(workspace) == 0
    out = capsys.readouterr().out
    second = _row(out, 2)
    for shown in ("0.500", "6", "3 train + 1 val, last img2", "#1", "momentum 0.9", "best"):
        assert shown in second
    assert "tile 124, batch 8, optimiser sgd, lr 0.01" in second
    assert "cannot be read: not a readable model file" in _row(out, 3)
    rootpainter = _row(out, 4)
    assert rootpainter.split()[3:] == ["—"] * 5  # F1, epoch, annotations, parent, settings
    assert "best" not in _row(out, 5) and "momentum 0.99, average 0.99" in _row(out, 5)
    assert "threshold 0.7" in _row(out, 5) and "threshold" not in second
    assert "average 0.0" in second
    assert "no model pinned: --model p and the app's trainer use the newest, #5" in out


def test_a_pin_is_what_model_project_and_the_trainer_start_from(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert resolve_model(workspace, PROJECT).name.startswith("000005_")
    assert _models(workspace, "--pin", "2") == 0
    assert "pinned model #2" in capsys.readouterr().out
    assert resolve_model(workspace, PROJECT).name.startswith("000002_")
    with workspace.open_project(PROJECT) as project:
        pinned = load_model_file(_model_path(project, 2))
        start = ensure_start_model(project)  # the pinned weights, saved again as #6
        assert start.version == 6 and start.metadata[COPY_OF] == _model_path(project, 2).name
        for key, value in pinned.state_dict.items():
            np.testing.assert_array_equal(start.state_dict[key], value)
        assert ensure_start_model(project).version == 6  # no second copy
        assert [info.number for info in project.models()] == [1, 2, 3, 4, 5, 6]
    assert _models(workspace) == 0
    out = capsys.readouterr().out
    assert "pinned, best" in _row(out, 2) and "copy of #2" in _row(out, 6)
    assert "pinned: #2: --model p names it and the app's trainer starts from it" in out

    assert _models(workspace, "--unpin") == 0
    assert "unpinned model #2" in capsys.readouterr().out
    assert resolve_model(workspace, PROJECT).name.startswith("000006_")
    config = json.loads((workspace.projects_dir / PROJECT / "project.json").read_text())
    assert "pinned_model" not in config  # the key is optional: written only while pinned
    with workspace.open_project(PROJECT) as project:
        assert ensure_start_model(project).version == 6  # unpinned: the newest


def test_a_pinned_model_whose_file_is_gone_is_said_not_guessed(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _models(workspace, "--pin", "2") == 0
    with workspace.open_project(PROJECT) as project:
        _model_path(project, 2).unlink()  # removed by hand
        assert ensure_start_model(project).version == 5  # the app trains from the newest
    with pytest.raises(UserError, match="pinned model #2 of project p is gone"):
        resolve_model(workspace, PROJECT)
    capsys.readouterr()
    assert _models(workspace) == 0
    assert "pinned: #2, but its file is gone" in capsys.readouterr().out


def test_diff_tells_what_changed_and_how_far_the_weights_moved(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _models(workspace, "--diff", "2", "5") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model #2 → model #5"
    text = "\n".join(lines)
    assert "0.500 → 0.450 (-0.050)" in text
    assert "6 → 15" in text
    assert "3 train + 1 val, last img2 → 6 train + 1 val, last img5" in text
    assert "momentum 0.9 → 0.99" in text and "tile" not in _line(lines, "settings")
    assert "average 0.0 → 0.99" in text
    most = _line(lines, "most moved:").split("most moved: ")[1].split(", ")
    assert most[0] == f"{SCALED_LAYER} {100 * (SCALE - 1):.2f} %"  # |1.1 w - w| / |w|
    assert len(most) == 1  # no other layer moved
    assert "moved 0.00 %" not in _line(lines, "weights")  # one layer moved: overall too


def _line(lines: list[str], start: str) -> str:
    return next(line for line in lines if line.strip().startswith(start))


def test_prune_keeps_pinned_best_and_newest(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _models(workspace, "--pin", "4") == 0
    assert _models(workspace, "--prune", "--keep", "1") == 0
    out = capsys.readouterr().out
    assert "would remove 2 of 5 models" in out and "--yes" in out
    with workspace.open_project(PROJECT, read_only=True) as project:
        assert [info.number for info in project.models()] == [1, 2, 3, 4, 5]
    assert _models(workspace, "--prune", "--keep", "1", "--yes") == 0
    assert "removed 2 of 5 models" in capsys.readouterr().out
    with workspace.open_project(PROJECT, read_only=True) as project:
        assert [info.number for info in project.models()] == [2, 4, 5]  # best, pinned, newest
    assert _models(workspace, "--prune") == 0
    assert "nothing to prune" in capsys.readouterr().out


def test_prune_of_a_project_held_whole_by_an_older_rptui_refuses_with_the_reason(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    with workspace.open_project(PROJECT) as other_app:  # apps of today lease images only
        assert not other_app.read_only
        older = ProjectLock(workspace.project_dir(PROJECT))  # an rptui from before leases
        older.acquire()
        try:
            assert _models(workspace, "--prune", "--keep", "1", "--yes") == 2
        finally:
            older.release()
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "read-only" in err and "pid" in err
        assert [info.number for info in other_app.models()] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (["--pin", "9"], "no model number 9"),
        (["--pin", "3"], "model #3 cannot be read"),
        (["--pin", "two"], "invalid int value"),
        (["--diff", "2", "8"], "no model number 8"),
        (["--diff", "2", "3"], "not a readable model file"),
        (["--prune", "--keep", "0"], "--keep 0"),
        (["--yes"], "go with --prune"),
        (["--pin", "2", "--unpin"], "not allowed with"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_input_is_one_line_and_exit_2(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], words: list[str], said: str
) -> None:
    try:
        code = _models(workspace, *words)
    except SystemExit as exit_info:  # argparse's own errors
        code = int(str(exit_info.code))
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and said in err


def test_unknown_project_is_one_line_and_exit_2(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--workspace", str(workspace.root), "models", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope" in err


def test_f1s_of_different_validation_sets_are_said_to_be_so(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    with workspace.open_project(PROJECT) as project:
        fifth = load_model_file(_model_path(project, 5))
        metadata = {**fifth.metadata, ANNOTATIONS_VAL: "4"}  # the validation set grew
        save_model(project, dataclasses.replace(fifth, version=6, f1=0.7, metadata=metadata))
    assert _models(workspace) == 0
    out = capsys.readouterr().out
    assert "best: #6 (validation F1 0.700 on 4 val annotations)" in out
    assert "validation sets of 1 to 4 annotations" in out
