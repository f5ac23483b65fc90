"""The driver's side of training: annotations go out, models and epoch logs land on disk."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from cluster.api import BACKGROUND, FOREGROUND, TrainingConfig
from cluster.backends.local import LocalBackend
from cluster.io.images import read_mask
from cluster.io.model_files import load_model_file
from cluster.simulate.synthetic import write_dataset
from rptui.cli import main
from rptui.session.training import annotated_images, ensure_start_model, train_project
from rptui.store.annotation_files import to_png_bytes
from rptui.store.workspace import Workspace

SIZE = 96
TILE = 108


def _labels_from(mask: np.ndarray) -> np.ndarray:
    labels = np.zeros(mask.shape, np.uint8)
    labels[::3, ::3] = BACKGROUND
    labels[(mask > 0)] = FOREGROUND
    return labels


@pytest.fixture()
def annotated_workspace(tmp_path: Path) -> Workspace:
    workspace = Workspace(tmp_path / "ws").ensure()
    truth = tmp_path / "truth"
    write_dataset(
        workspace.dataset_dir("roots"),
        count=4,
        seed=3,
        height=SIZE,
        width=SIZE,
        masks_folder=truth,
        root_probability=1.0,
    )
    project = workspace.create_project("p", "roots", seed=1)
    for index in range(2):
        mask = read_mask(truth / project.image_names[index], kind="binary")
        project.save_annotation_png(project.stem(index), None, to_png_bytes(_labels_from(mask)))
    project.close()
    return workspace


def test_saved_annotations_are_read_back_with_their_fixed_splits(
    annotated_workspace: Workspace,
) -> None:
    project = annotated_workspace.open_project("p")
    items = annotated_images(project)
    assert sorted(item.split for item in items) == ["train", "val"]
    assert all(item.labels.shape == item.image.shape[:2] == (SIZE, SIZE) for item in items)
    assert all((item.labels == FOREGROUND).any() for item in items)
    project.close()


def test_the_first_model_is_saved_once_as_number_one(annotated_workspace: Workspace) -> None:
    project = annotated_workspace.open_project("p")
    first = ensure_start_model(project)
    again = ensure_start_model(project)
    assert first.version == again.version == 1
    assert [info.number for info in project.models()] == [1]
    project.close()


async def test_training_streams_better_models_and_epoch_logs_to_disk(
    annotated_workspace: Workspace,
) -> None:
    project = annotated_workspace.open_project("p")
    backend = LocalBackend(segment_tile_size=TILE, tta=False)
    config = TrainingConfig(tile_size=TILE, batch_size=2, epoch_tiles=4, patience=3, seed=0)
    try:
        final = await train_project(project, backend, config, seconds=90)
    finally:
        await backend.close()
    assert final.last_error is None
    assert final.epoch >= 1
    with (project.logs_dir / "epochs.csv").open() as log_file:
        rows = list(csv.DictReader(log_file))
    assert len(rows) == final.epoch
    assert {"epoch", "train_loss", "tp", "fp", "tn", "fn", "f1", "duration"} <= set(rows[0])
    models = project.models()
    assert models[0].number == 1
    assert models[-1].number == final.model_version
    newest = load_model_file(models[-1].path)
    if final.model_version > 1:
        assert newest.f1 == pytest.approx(final.best_f1)
    project.close()


def test_train_command_refuses_a_missing_project(
    annotated_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--workspace", str(annotated_workspace.root), "train", "nope"])
    assert code == 2
    assert "nope" in capsys.readouterr().err
