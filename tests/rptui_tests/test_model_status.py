"""What the app and the commands say about training: from the project's files until a
trainer holds the project, then the trainer's, with a rescored F1 beside the saved one;
and what an undo or redo says it did."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    TrainerState,
    TrainerStatus,
    TrainingConfig,
    describe_model,
)
from cluster.backends.local import LocalBackend
from cluster.head.trainer_report import report_of
from rptui.commands.training import EpochLines, describe
from rptui.session.model_status import shown_status, status_on_disk
from rptui.session.training import append_epoch_log, train_project
from rptui.session.undo_note import UndoNote
from rptui.store.annotation import Annotation
from rptui.store.annotation_files import to_png_bytes
from rptui.store.project import Project
from rptui.store.workspace import Workspace
from tests.rptui_tests.model_helpers import TILE, add_model, epoch_record
from tests.rptui_tests.screen_helpers import PROJECT, make_workspace

HEIGHT, WIDTH = 40, 56
SAVED_F1 = 0.9
TRAIN_LIMIT_S = 120.0  # one epoch of two tiles, on a loaded machine


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=3, height=HEIGHT, width=WIDTH)


def _annotate(project: Project, index: int, offset: int, split: str | None = None) -> None:
    labels = np.full((HEIGHT, WIDTH), BACKGROUND, np.uint8)
    labels[:, offset::7] = FOREGROUND
    project.save_annotation_png(project.stem(index), split, to_png_bytes(labels))  # type: ignore[arg-type]


def test_the_files_say_the_newest_model_its_f1_the_epoch_and_the_annotations(
    workspace: Workspace,
) -> None:
    with workspace.open_project(PROJECT) as project:
        assert describe(status_on_disk(project)).endswith("no model yet · 0 train / 0 val")
        _annotate(project, 0, 0)  # validation first, then training
        _annotate(project, 1, 3)
        add_model(project, 1, None)
        add_model(project, 3, 0.908)
        append_epoch_log(project, [epoch_record(n, improved=n <= 2) for n in (1, 2)])
        append_epoch_log(project, [epoch_record(n, improved=False) for n in (3, 4)])  # a later run
        status = status_on_disk(project)
    assert status.state is TrainerState.STOPPED
    assert (status.model_version, status.best_f1, status.saved_f1) == (3, 0.908, 0.908)
    assert (status.epoch, status.epochs_since_best) == (4, 2)
    assert (status.n_train, status.n_val) == (1, 1)


def test_a_damaged_epoch_log_is_read_up_to_the_damage(workspace: Workspace) -> None:
    with workspace.open_project(PROJECT) as project:
        append_epoch_log(project, [epoch_record(n, improved=n == 1) for n in (1, 2)])
        log = project.logs_dir / "epochs.csv"
        log.write_text(log.read_text() + "three,garbage\n")
        status = status_on_disk(project)
    assert (status.epoch, status.epochs_since_best) == (2, 1)


def test_a_fresh_trainer_shows_the_files_and_a_trainer_at_work_shows_itself() -> None:
    on_disk = TrainerStatus(
        TrainerState.STOPPED, epoch=4, best_f1=0.908, saved_f1=0.908, n_train=5, n_val=1,
        model_version=3,
    )  # fmt: skip
    fresh = TrainerStatus(TrainerState.STOPPED, device="cuda")  # a new actor, sent nothing
    assert shown_status(on_disk, fresh) == TrainerStatus(
        TrainerState.STOPPED, epoch=4, best_f1=0.908, saved_f1=0.908, n_train=5, n_val=1,
        model_version=3, device="cuda",
    )  # fmt: skip
    assert shown_status(on_disk, None) == on_disk
    rescored = TrainerStatus(
        TrainerState.TRAINING, epoch=1, best_f1=0.855, saved_f1=0.908, model_version=3
    )
    assert shown_status(on_disk, rescored) == rescored
    stopped_later = TrainerStatus(TrainerState.STOPPED, best_f1=0.93, model_version=4)
    assert shown_status(on_disk, stopped_later) == stopped_later


async def test_a_new_validation_image_rescores_the_model_and_both_f1s_are_said(
    workspace: Workspace,
) -> None:
    """The trainer starts from model #2 (saved at F1 0.9) and scores it again on today's
    validation set; the command, the head's report and the files agree on both F1s."""
    with workspace.open_project(PROJECT) as project:
        _annotate(project, 0, 0)
        _annotate(project, 1, 3)
        _annotate(project, 2, 5, "val")  # a validation image added since model #2
        add_model(project, 2, SAVED_F1)
        assert describe_model(2, SAVED_F1, SAVED_F1) in describe(status_on_disk(project))
        backend = LocalBackend(segment_tile_size=TILE, tta=False)
        config = TrainingConfig(  # no learning: the one epoch cannot beat model #2
            tile_size=TILE, batch_size=2, epoch_tiles=2, learning_rate=0.0, patience=1, seed=0
        )
        try:
            final = await train_project(project, backend, config, seconds=TRAIN_LIMIT_S)
        finally:
            await backend.close()
        on_disk = status_on_disk(project)
    assert final.state is TrainerState.FINISHED and final.epoch == 1
    assert final.model_version == on_disk.model_version == 2
    assert final.saved_f1 == on_disk.saved_f1 == SAVED_F1
    assert final.best_f1 is not None and round(final.best_f1, 3) != SAVED_F1
    said = describe_model(2, final.best_f1, SAVED_F1)
    assert said.endswith(f"({SAVED_F1:.3f} when saved)")
    assert said in describe(final) and said in report_of(final).describe()


def test_a_log_gets_one_whole_line_when_the_best_model_is_rescored() -> None:
    log = io.StringIO()
    lines = EpochLines(Console(file=log, width=40))  # narrower than a line: never wrapped
    kept = TrainerStatus(
        TrainerState.TRAINING, best_f1=0.435, saved_f1=0.435, model_version=17, n_train=1, n_val=3
    )
    for status in (kept, kept, dataclasses.replace(kept, best_f1=0.498)):
        lines(status)
    printed = log.getvalue().splitlines()
    assert len(printed) == 2
    assert printed[1].endswith("model #17 F1 0.498 (0.435 when saved) · 1 train / 3 val")


def test_undo_and_redo_say_what_they_did_and_how_many_steps_are_left() -> None:
    annotation = Annotation.blank(20, 20)
    note = UndoNote()
    annotation.paint_point(5, 5, radius=1, value=FOREGROUND)
    annotation.paint_stroke([(2, 2), (2, 12)], radius=1, value=BACKGROUND)
    annotation.fill_box(10, 10, 15, 15, value=FOREGROUND)
    boxes, said = [], []
    for step in (note.undo, note.undo, note.redo, note.undo, note.undo, note.undo):
        boxes.append(step(annotation))
        part = note.part(annotation)
        assert part is not None
        said.append(part.text)
    assert [box is None for box in boxes] == [False] * 5 + [True]
    assert said == [
        "undo: box (2 left)",
        "undo: stroke (1 left)",
        "redo: stroke (1 left)",
        "undo: stroke (1 left)",
        "undo: point (0 left)",
        "nothing to undo",
    ]
    annotation.paint_point(1, 1, radius=0, value=FOREGROUND)
    assert note.part(annotation) is None  # the next edit ends the note
    assert note.part(Annotation.blank(20, 20)) is None  # so does another image
