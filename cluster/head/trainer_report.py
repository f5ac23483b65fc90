"""What each trainer is doing, kept in the head's key-value store for ``rptui status``.

A trainer actor publishes its state, epoch and best model whenever they change
(:func:`publish_trainer_status`); ``rptui status`` reads them through the head's GCS
(:func:`read_trainer_reports`) without joining as a driver or calling the actor.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from cluster.api import TrainerState, TrainerStatus, describe_model

log = logging.getLogger(__name__)

TRAINER_KV_NAMESPACE = b"rptui-trainers"
KEY_SEPARATOR = "/"  # keys are <actor namespace>/<actor name>
GCS_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TrainerReport:
    """A trainer's state as last published."""

    state: str  # a TrainerState value
    epoch: int
    epochs_since_best: int
    best_f1: float | None
    model_version: int
    n_train: int
    n_val: int
    updated: float  # unix time
    saved_f1: float | None = None  # the best model's F1 when kept (best_f1 may be rescored)

    @property
    def training(self) -> bool:
        """Whether the trainer runs epochs now."""
        return self.state == TrainerState.TRAINING.value

    def describe(self) -> str:
        """One phrase: ``training, epoch 12 (3 since best), model #4 F1 0.853, 3 train / 1 val``."""
        state = self.state
        if self.state == TrainerState.IDLE.value:
            state = "waiting for annotations (one per split)"
        return (
            f"{state}, epoch {self.epoch} ({self.epochs_since_best} since best), "
            f"{describe_model(self.model_version, self.best_f1, self.saved_f1)}, "
            f"{self.n_train} train / {self.n_val} val"
        )


def report_of(status: TrainerStatus) -> TrainerReport:
    """The report of a trainer's status, stamped now."""
    return TrainerReport(
        state=status.state.value,
        epoch=status.epoch,
        epochs_since_best=status.epochs_since_best,
        best_f1=status.best_f1,
        model_version=status.model_version,
        n_train=status.n_train,
        n_val=status.n_val,
        updated=time.time(),
        saved_f1=status.saved_f1,
    )


def publish_trainer_status(status: TrainerStatus) -> None:
    """Record the status of the trainer this runs in (does nothing outside a Ray actor)."""
    import ray
    from ray.experimental import internal_kv

    if not ray.is_initialized():
        return
    context = ray.get_runtime_context()
    name = context.get_actor_name()
    if not name:
        return
    key = f"{context.namespace}{KEY_SEPARATOR}{name}".encode()
    value = json.dumps(asdict(report_of(status))).encode()
    internal_kv._internal_kv_put(key, value, namespace=TRAINER_KV_NAMESPACE)


def read_trainer_reports(client: Any) -> dict[tuple[str, str], TrainerReport]:
    """Every published trainer report on the head, by (actor namespace, actor name)."""
    keys = client.internal_kv_keys(b"", namespace=TRAINER_KV_NAMESPACE, timeout=GCS_TIMEOUT_S)
    if not keys:
        return {}
    values = client.internal_kv_multi_get(
        keys, namespace=TRAINER_KV_NAMESPACE, timeout=GCS_TIMEOUT_S
    )
    reports = {}
    for key, value in values.items():
        namespace, _, name = key.decode().partition(KEY_SEPARATOR)
        try:
            reports[namespace, name] = TrainerReport(**json.loads(value))
        except (TypeError, ValueError) as error:  # written by another version: not shown
            log.info("unreadable trainer report %s: %s", key, error)
    return reports
