"""What a project's training stands at, from its files first and its trainer once it has one.

Until a trainer holds the project (the app just opened, no backend yet, or a fresh
trainer that has been sent nothing), what the project's files say is shown: its newest
model with the F1 that model's file records, the epoch and epochs since the best from
``logs/epochs.csv``, and the annotations of each split. Once the trainer holds the
newest model (or a newer one), its status is shown. Either way it is one
:class:`~cluster.api.TrainerStatus`, described everywhere by
:func:`cluster.api.describe_model`, so the status line, the training panel, the model
list and the commands say the same.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import logging
from pathlib import Path

from cluster.api import TrainerState, TrainerStatus
from cluster.io.model_files import recorded_f1
from rptui.session.training import EPOCH_LOG_NAME
from rptui.store.project import Project

log = logging.getLogger(__name__)

MODEL_F1_CACHE = 1024  # model files read for their F1, remembered by path
IMPROVED = str(True)  # how the epoch log writes an improving epoch
RUNNING = (TrainerState.TRAINING, TrainerState.IDLE)  # a trainer at work on a project


@functools.lru_cache(maxsize=MODEL_F1_CACHE)
def saved_f1(path: Path) -> float | None:
    """The F1 a model file records (None: none or unreadable). A model file is never
    rewritten (its name holds its number and time), so each is read once."""
    return recorded_f1(path)


def epoch_position(path: Path) -> tuple[int, int]:
    """The last epoch of an epoch log and the epochs since the last one that improved;
    (0, 0) without a log. A damaged row ends the reading there."""
    epoch = since_best = 0
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            for row in csv.DictReader(stream):
                epoch = int(row["epoch"])
                since_best = 0 if row["improved"] == IMPROVED else since_best + 1
    except FileNotFoundError:
        pass
    except (OSError, KeyError, TypeError, ValueError, csv.Error) as error:
        log.warning("reading %s: %s", path, error)
    return epoch, since_best


def split_counts(project: Project) -> tuple[int, int]:
    """Annotated images in the training and the validation split."""
    splits = list(project.config.splits.values())
    return splits.count("train"), splits.count("val")


def status_on_disk(project: Project) -> TrainerStatus:
    """What the project's files say: newest model and its F1, epoch log, annotations."""
    newest = project.newest_model()
    f1 = saved_f1(newest.path) if newest is not None else None
    epoch, since_best = epoch_position(project.logs_dir / EPOCH_LOG_NAME)
    n_train, n_val = split_counts(project)
    return TrainerStatus(
        TrainerState.STOPPED,
        epoch=epoch,
        best_f1=f1,
        epochs_since_best=since_best,
        n_train=n_train,
        n_val=n_val,
        model_version=newest.number if newest is not None else 0,
        saved_f1=f1,
    )


def holds_project(live: TrainerStatus, on_disk: TrainerStatus) -> bool:
    """Whether a trainer works on the project: it trains or waits for annotations, or it
    holds the newest model on disk or a newer one (a fresh trainer holds none)."""
    if live.state in RUNNING:
        return True
    return live.model_version > 0 and live.model_version >= on_disk.model_version


def shown_status(on_disk: TrainerStatus, live: TrainerStatus | None) -> TrainerStatus:
    """The live status when its trainer works on the project (:func:`holds_project`); else
    what the files say, in the live trainer's state (stopped when there is none)."""
    if live is None:
        return on_disk
    if holds_project(live, on_disk):
        return live
    return dataclasses.replace(
        on_disk, state=live.state, last_error=live.last_error, device=live.device
    )
