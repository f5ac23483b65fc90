"""The training loop: epochs of a :class:`~cluster.training.engine.TrainingEngine` until
it finishes or is stopped, waiting while it has nothing to train on."""

from __future__ import annotations

import time
from collections.abc import Callable

from cluster.api import EpochRecord, TrainerState
from cluster.training.engine import TrainingEngine

IDLE_WAIT_SECONDS = 0.5


def train_until(
    engine: TrainingEngine,
    *,
    should_stop: Callable[[], bool],
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_state: Callable[[TrainerState], None] | None = None,
    idle_wait: float = IDLE_WAIT_SECONDS,
) -> TrainerState:
    """Run epochs until the engine finishes or ``should_stop``; waits while not ready.

    ``on_state`` hears IDLE while waiting for annotations and TRAINING before each epoch.
    Returns ``FINISHED`` (patience used up) or ``STOPPED``.
    """
    while not should_stop():
        if engine.finished:
            return TrainerState.FINISHED
        if not engine.ready:
            if on_state is not None:
                on_state(TrainerState.IDLE)
            engine.release_device()  # nothing to train on yet: free the accelerator
            time.sleep(idle_wait)
            continue
        if on_state is not None:
            on_state(TrainerState.TRAINING)
        record = engine.run_epoch(should_stop=should_stop)
        if record is not None and on_epoch is not None:
            on_epoch(record)
    return TrainerState.STOPPED
