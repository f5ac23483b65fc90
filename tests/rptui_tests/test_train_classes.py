"""`rptui train` on a multi-class stack project, and the epoch log it keeps."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from cluster.api import EpochRecord
from cluster.io.model_files import load_model_file
from cluster.simulate.synthetic_classes import CLASS_NAMES, generate_class_stack
from rptui.session.training import EPOCH_LOG_NAME, append_epoch_log
from rptui.store.annotation_files import to_png_bytes
from tests.rptui_tests.class_stack_helpers import PROJECT, SIDE, K, make_class_workspace
from tests.rptui_tests.screen_helpers import run_cli


def _record(epoch: int, class_f1: tuple[float, ...]) -> EpochRecord:
    return EpochRecord(
        epoch=epoch, time=0.0, train_loss=0.5, tp=1, fp=2, tn=3, fn=4, precision=0.3,
        recall=0.2, f1=0.25, duration=1.0, tiles=4, tile_size=124, batch_size=2,
        improved=False, class_f1=class_f1,
    )  # fmt: skip


def _annotate_two_slices(root: Path) -> None:
    """Dense labels on slices 1 and 2 of the first stack (one to validation, one to training)."""
    workspace = make_class_workspace(root)
    _, truth = generate_class_stack(slices=4, height=SIDE, width=SIDE, classes=K - 1, seed=3)
    with workspace.open_project(PROJECT) as project:
        for z, split in ((0, "val"), (1, "train")):
            labels = (truth[z] + 1).astype(np.uint8)
            name = project.slice_name(0, z)
            project.save_annotation_png(name, split, to_png_bytes(labels, classes=K))


def test_train_command_trains_every_class_of_a_stack_project(tmp_path: Path) -> None:
    _annotate_two_slices(tmp_path)
    options = ("--tile-size", "124", "--batch-size", "2", "--epoch-tiles", "4")
    code = run_cli(tmp_path, "--in-process", "train", PROJECT, "--seconds", "20", *options)
    assert code == 0
    project_dir = tmp_path / "projects" / PROJECT
    models = sorted((project_dir / "models").glob("*.pt"))
    assert models, "training saved no model"
    assert load_model_file(models[-1]).classes == CLASS_NAMES
    with open(project_dir / "logs" / EPOCH_LOG_NAME, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, "no epoch was logged"
    for name in CLASS_NAMES[1:]:
        assert 0.0 <= float(rows[-1][f"f1_{name}"]) <= 1.0


def test_an_epoch_log_begun_with_other_columns_stays_aligned(tmp_path: Path) -> None:
    workspace = make_class_workspace(tmp_path)
    with workspace.open_project(PROJECT) as project:
        log = project.logs_dir / EPOCH_LOG_NAME
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("epoch,f1,tiles\n1,0.1,8\n", encoding="utf-8")
        append_epoch_log(project, [_record(2, (0.4, 0.5, 0.6))])
    with open(log, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["epoch", "f1", "tiles"], ["1", "0.1", "8"], ["2", "0.25", "4"]]
