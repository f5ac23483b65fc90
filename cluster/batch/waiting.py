"""Saying why a batch run has nothing to show yet: what it waits for, and who holds it.

While a Ray Data run has produced no result, :func:`wait_notice` calls ``on_wait`` every
``interval_s`` seconds with a one-line reason: the CPUs or GPUs its workers asked for
and the named actors holding them, or that the workers are still starting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from cluster.batch.worker_shape import WorkerShape
from cluster.head.status import ActorInfo, named_actors, resource_text

log = logging.getLogger(__name__)

WAIT_NOTICE_S = 15.0
OnWait = Callable[[str], None]


def short_resources(shape: WorkerShape, room: Mapping[str, float]) -> list[str]:
    """What one worker of ``shape`` asks for beyond the ``room`` left to it, e.g. ``1 CPU``."""
    wanted = {"CPU": shape.num_cpus, "GPU": shape.num_gpus}
    return [f"{amount:g} {name}" for name, amount in wanted.items() if amount > room.get(name, 0.0)]


def holding_actors() -> list[ActorInfo]:
    """The live named actors on the cluster that hold CPUs or GPUs."""
    import ray
    from ray._raylet import GcsClient

    client = GcsClient(address=ray.get_runtime_context().gcs_address)
    return [
        actor for actor in named_actors(client) if actor.live and resource_text(actor.resources)
    ]


def blocking_reason(shape: WorkerShape, waited_s: float) -> str:
    """Why no image has come back after ``waited_s`` seconds, in one line.

    The room left to a worker is the cluster's total less what the named actors (the
    projects' trainers and segmenters) hold: what a starting pool holds itself counts
    as room, so a pool loading its models is not said to wait.
    """
    import ray

    holders = holding_actors()
    room = dict(ray.cluster_resources())
    for actor in holders:
        for name, amount in actor.resources.items():
            room[name] = room.get(name, 0.0) - amount
    short = short_resources(shape, room)
    if not short:
        return f"no image done after {waited_s:.0f} s: the workers are starting (models load)"
    held = ", ".join(f"{actor.name} ({resource_text(actor.resources)})" for actor in holders)
    return (
        f"waiting {waited_s:.0f} s for {', '.join(short)}: held by {held or 'other work'}; "
        "ending those frees them"
    )


@contextmanager
def wait_notice(
    shape: WorkerShape, on_wait: OnWait | None, *, interval_s: float = WAIT_NOTICE_S
) -> Iterator[Callable[[], None]]:
    """Call ``on_wait(reason)`` every ``interval_s`` (from a thread) until the callable this
    yields is called: a result came."""
    arrived = threading.Event()
    if on_wait is not None:
        watcher = threading.Thread(
            target=_watch, args=(shape, on_wait, arrived, interval_s), name="batch-wait"
        )
        watcher.daemon = True
        watcher.start()
    try:
        yield arrived.set
    finally:
        arrived.set()


def _watch(
    shape: WorkerShape, on_wait: OnWait, arrived: threading.Event, interval_s: float
) -> None:
    started = time.monotonic()
    while not arrived.wait(interval_s):
        waited = time.monotonic() - started
        try:
            reason = blocking_reason(shape, waited)
        except Exception as error:  # a notice must never break the run
            log.info("cannot tell what blocks: %s", error)
            reason = f"no image done after {waited:.0f} s"
        if not arrived.is_set():
            on_wait(reason)
