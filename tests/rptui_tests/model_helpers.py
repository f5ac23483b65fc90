"""Models and epoch records written into a project as training would, for the tests of
what the app and the commands say about them."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from cluster.api import EpochRecord
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from rptui.session.training import save_model
from rptui.store.project import Project

TILE = 108


def add_model(project: Project, version: int, f1: float | None) -> Path:
    """Model ``version`` of fixed random weights, recording ``f1`` (None: none, as a start)."""
    torch.manual_seed(version)
    model = UNetGNRes(out_channels=2)
    return save_model(project, snapshot_from_model(model, version=version, f1=f1))


def epoch_record(epoch: int, *, improved: bool, f1: float = 0.5) -> EpochRecord:
    """An epoch log line: ``improved`` says whether it kept a new model."""
    return EpochRecord(
        epoch=epoch, time=time.time(), train_loss=0.5, tp=1, fp=1, tn=1, fn=1, precision=0.5,
        recall=0.5, f1=f1, duration=1.0, tiles=2, tile_size=TILE, batch_size=2, improved=improved,
    )  # fmt: skip
