"""A driver that loses the worker node while its project trains (run by test_node_loss).

``python two_nodes_loss_driver.py WORKSPACE ADDRESS`` places a project's trainer on the
worker node, trains until the first epoch, then talks to the test on stdin/stdout:

- prints ``trained`` and waits for ``killed`` (the test has killed the worker node);
- calls the trainer until the backend says plainly that no node can hold it, prints
  ``no-node <message>`` and waits for ``replaced`` (a new worker node has joined);
- calls again until the trainer, restarted on the new node and sent the annotations
  again, has finished a new epoch, and prints what it saw as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from cluster.api import Placement, TrainerState
from cluster.backends.ray_backend import RayBackend
from cluster.head.connect import ConnectError, connect, disconnect
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from tests.cluster_tests.two_nodes_driver import CONFIG, RESOURCE, WAIT_S, actor_node, annotated

CALL_TIMEOUT_S = 3.0  # once trained (the first calls wait for the actors to start)


def say(line: str) -> None:
    print(line, flush=True)


def hear(expected: str) -> float:
    line = sys.stdin.readline().strip()
    if line != expected:
        raise SystemExit(f"expected {expected!r} from the test, got {line!r}")
    return time.monotonic()


async def epochs(backend: RayBackend, since: int, deadline: float) -> int:
    """The newest epoch once one past ``since`` is done (calls that fail are retried)."""
    while time.monotonic() < deadline:
        try:
            records = await backend.epoch_log(since)
            if records:
                return records[-1].epoch
        except (TimeoutError, ConnectError):
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"no epoch after {since}")


async def scenario(backend: RayBackend) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    await backend.add_annotation(annotated("a.png", "train", 1))
    await backend.add_annotation(annotated("b.png", "val", 2))
    await backend.start_training(CONFIG)
    first = await epochs(backend, 0, deadline)
    node_before = actor_node(backend.trainer)
    backend.timeout_s = CALL_TIMEOUT_S  # from now on, a call that hangs is asked again
    say("trained")
    killed = await asyncio.to_thread(hear, "killed")
    message = ""
    while not message and time.monotonic() < killed + WAIT_S:
        try:
            await backend.status()
        except ConnectError as error:
            message = str(error)
        except TimeoutError:
            pass
    said = time.monotonic()
    say(f"no-node {message}")
    replaced = await asyncio.to_thread(hear, "replaced")
    status = None
    while time.monotonic() < replaced + WAIT_S:
        try:
            status = await backend.status()
        except (TimeoutError, ConnectError):
            continue
        if status.state == TrainerState.TRAINING and status.n_train == 1:
            break
        await asyncio.sleep(0.2)
    resumed = time.monotonic()
    newest = await epochs(backend, first, replaced + WAIT_S)
    trained_again = time.monotonic()
    seen = {
        "first_epoch": first,
        "epoch_after": newest,
        "message_s": round(said - killed, 2),
        "training_again_s": round(resumed - replaced, 2),
        "epoch_again_s": round(trained_again - replaced, 2),
        "restarts_seen": backend.restarts_seen,
        "state": status.state.value if status else None,
        "counts": [status.n_train, status.n_val] if status else None,
        "node_before": node_before,
        "node_after": actor_node(backend.trainer),
        "message": message,
    }
    await backend.end_actors()
    return seen


def main(argv: list[str]) -> int:
    workspace, address = Path(argv[0]), argv[1]
    connect(workspace, address)
    start = snapshot_from_model(UNetGNRes(), version=1)
    backend = RayBackend(
        "node-loss",
        start_model=start,
        tta=False,
        placement=Placement(RESOURCE),
    )
    seen = asyncio.run(scenario(backend))
    disconnect()
    say(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
