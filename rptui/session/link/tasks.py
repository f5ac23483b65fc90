"""The backend link's background work: asyncio tasks by group, ended together, and a poll.

A group runs one job (pre-segmenting, training, syncing, sending): an exclusive start
cancels the group's tasks still running, as the user moving on makes the previous
image's wait pointless. A task's failure is logged, never raised into the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

log = logging.getLogger(__name__)


class TaskGroups:
    """Named groups of running tasks."""

    def __init__(self) -> None:
        self._groups: dict[str, set[asyncio.Task[Any]]] = {}

    def spawn(
        self, group: str, job: Coroutine[Any, Any, Any], *, exclusive: bool = False
    ) -> asyncio.Task[Any]:
        """Run ``job`` in the background in ``group`` (``exclusive``: cancel the others)."""
        tasks = self._groups.setdefault(group, set())
        if exclusive:
            for task in tasks:
                task.cancel()
        task = asyncio.get_running_loop().create_task(job, name=f"link {group}")
        tasks.add(task)
        task.add_done_callback(partial(self._done, group))
        return task

    def _done(self, group: str, task: asyncio.Task[Any]) -> None:
        self._groups.get(group, set()).discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background %s failed: %s", group, task.exception())

    def running(self, group: str) -> bool:
        """Whether a task of ``group`` has not finished."""
        return any(not task.done() for task in self._groups.get(group, ()))

    async def end(self, *, finish: tuple[str, ...] = ()) -> None:
        """Let the tasks of the ``finish`` groups end, cancel the others, and wait for all."""
        ending = [task for tasks in self._groups.values() for task in tasks]
        for name, tasks in self._groups.items():
            if name not in finish:
                for task in tasks:
                    task.cancel()
        await asyncio.gather(*ending, return_exceptions=True)


class Ticker:
    """Calls ``tick`` every ``interval()`` seconds until stopped (the interval is read
    anew each time)."""

    def __init__(self, tick: Callable[[], None], interval: Callable[[], float]) -> None:
        self._tick = tick
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        """Start ticking (nothing when already started)."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="link poll")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval())
            if not self._stopping.is_set():
                self._tick()

    async def stop(self) -> None:
        """Stop ticking; returns once a tick under way has ended."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            await task
