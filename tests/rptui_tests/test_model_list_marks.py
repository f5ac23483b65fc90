"""The segment-folder screen's model list: each F1 with the validation set it was measured
on, the pinned model marked and ticked at first, the best recorded F1 marked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from textual.widgets import SelectionList

from cluster.io.model_files import load_model_file
from cluster.io.model_metadata import training_metadata
from rptui.session.training import save_model
from rptui.store.model_registry import RecordedScore, recorded_score
from rptui.store.workspace import Workspace
from rptui.tui.screens.segment_folder import SegmentFolderScreen
from tests.rptui_tests.screen_helpers import (
    APP_SIZE,
    PROJECT,
    make_workspace,
    open_app,
    press_for_screen,
    wait_for,
)

# (version, F1, validation annotations when saved): #3 scores higher on a larger set
TRAINED = ((2, 0.5, 1), (3, 0.6, 4))


def _workspace(tmp_path: Path, *, pin: int | None) -> Workspace:
    """Models #1 (random start, no F1), then TRAINED; model ``pin`` pinned."""
    workspace = make_workspace(tmp_path / "ws", count=2, height=32, width=32, with_model=True)
    with workspace.open_project(PROJECT) as project:
        start = load_model_file(project.models()[0].path)
        for version, f1, n_val in TRAINED:
            metadata = training_metadata(
                epoch=version, n_train=2 * n_val, n_val=n_val, last_annotation=None,
                tile_size=124, batch_size=2, optimiser="sgd", learning_rate=0.01, momentum=0.9,
            )  # fmt: skip
            save_model(
                project, dataclasses.replace(start, version=version, f1=f1, metadata=metadata)
            )
        if pin is not None:
            project.pin_model(pin)
    return workspace


async def _rows(workspace: Workspace) -> tuple[list[str], list[str]]:
    """The list's rows and the file names ticked, as the screen first shows them."""
    app = open_app(workspace)
    async with app.run_test(size=APP_SIZE) as pilot:
        folder = await press_for_screen(pilot, "b", SegmentFolderScreen)
        models = folder.query_one("#models", SelectionList)
        await wait_for(pilot, lambda: models.option_count == 3)
        rows = [str(models.get_option_at_index(i).prompt) for i in range(3)]
        return rows, [Path(path).name for path in models.selected]


async def test_the_pinned_model_is_marked_and_ticked_and_each_f1_names_its_validation_set(
    tmp_path: Path,
) -> None:
    rows, ticked = await _rows(_workspace(tmp_path, pin=2))
    assert rows[0].startswith("model #3 F1 0.600 · 4 val · best  000003_")
    assert rows[1].startswith("model #2 F1 0.500 · 1 val · pinned  000002_")
    assert rows[2].startswith("model #1 (start)  000001_")
    assert [name[:6] for name in ticked] == ["000002"]


async def test_without_a_pin_the_newest_is_ticked(tmp_path: Path) -> None:
    rows, ticked = await _rows(_workspace(tmp_path, pin=None))
    assert not any("pinned" in row for row in rows)
    assert [name[:6] for name in ticked] == ["000003"]


def test_a_file_that_records_no_score_shows_none(tmp_path: Path) -> None:
    """RootPainter's bare state dict and a damaged file have no F1 and no validation count."""
    workspace = _workspace(tmp_path, pin=None)
    with workspace.open_project(PROJECT, read_only=True) as project:
        ours = project.models()[-1].path
        bare = tmp_path / "000004_1700000000.pkl"
        state = load_model_file(ours).state_dict
        torch.save({key: torch.from_numpy(value) for key, value in state.items()}, bare)
    damaged = tmp_path / "000005_1700000000.pt"
    damaged.write_bytes(ours.read_bytes()[:1000])
    assert recorded_score(ours) == RecordedScore(0.6, 4)
    assert recorded_score(bare) == recorded_score(damaged) == RecordedScore(None, None)
