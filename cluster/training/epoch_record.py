"""An epoch's record (loss, validation counts and F1, timing) and its log line."""

from __future__ import annotations

import logging
import time

import numpy as np

from cluster.api import EpochRecord
from cluster.training.confusion import Confusion, total

log = logging.getLogger(__name__)


def epoch_record(
    *,
    epoch: int,
    per_class: tuple[Confusion, ...],
    f1: float,
    losses: list[float],
    tiles: int,
    tile_size: int,
    batch_size: int,
    improved: bool,
    started: float,
) -> EpochRecord:
    """The record of an epoch that began at ``started`` (``time.perf_counter``) and ends now."""
    counts = total(per_class)
    return EpochRecord(
        epoch=epoch,
        time=time.time(),
        train_loss=float(np.mean(losses)) if losses else float("nan"),
        tp=counts.tp,
        fp=counts.fp,
        tn=counts.tn,
        fn=counts.fn,
        precision=counts.precision,
        recall=counts.recall,
        f1=f1,
        class_f1=tuple(c.f1 for c in per_class),
        duration=time.perf_counter() - started,
        tiles=tiles,
        tile_size=tile_size,
        batch_size=batch_size,
        improved=improved,
    )


def log_epoch(record: EpochRecord, *, best_f1: float | None) -> None:
    """Log an epoch's loss, F1 and size at INFO."""
    log.info(
        "epoch %d: loss %.4f F1 %.4f (best %.4f) %d tiles of %d in %.1f s%s",
        record.epoch,
        record.train_loss,
        record.f1,
        best_f1 or 0.0,
        record.tiles,
        record.tile_size,
        record.duration,
        " (improved)" if record.improved else "",
    )
