"""A backend that runs in a child process, so nothing its libraries do can end the caller.

Ray's native core ends a driver process whose local Ray head goes away (``rptui stop``,
the head's idle stop, a crash), with no Python exception to catch. The app must outlive
that: it keeps annotating offline and reconnects later. So the app's backend lives in a
child process: every call travels through a pipe, a dead child fails the calls waiting
on it with :class:`BackendProcessEnded`, and a fresh :class:`IsolatedBackend` joins Ray
again. The child prints nothing on the terminal: its standard output goes where the
caller's file descriptor 2 goes (the Ray log, once the caller diverted it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from cluster.api import (
    AnnotatedImage,
    Backend,
    EpochRecord,
    ModelSnapshot,
    Segmentation,
    SegmentationRequest,
    TrainerStatus,
    TrainingConfig,
)

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0  # the child imports Ray and may start the embedded head
CLOSE_TIMEOUT_S = 10.0
PARENT_CHECK_S = 0.5  # while starting, how often the child looks for its parent
CLOSE = "close"
READY = 0  # the call id of the child's first message
Reply = tuple[int, bool, Any]


class BackendProcessEnded(ConnectionError):
    """The child process that held the backend is gone (or never came up)."""


def _portable(error: BaseException) -> Exception:
    """An exception that survives pickling: the original if it can, else its text."""
    import pickle

    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # an exception carrying unpicklable state: keep what it said
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error if isinstance(error, Exception) else RuntimeError(str(error))


def _has_descriptor(stream: object) -> bool:
    try:
        return stream.fileno() >= 0  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


@contextlib.contextmanager
def _stderr_with_descriptor() -> Iterator[None]:
    """A real ``sys.stderr`` while a child starts: multiprocessing hands its descriptor
    on, and inside a running app ``sys.stderr`` is the app's capture, without one."""
    if _has_descriptor(sys.stderr):
        yield
        return
    with (
        os.fdopen(os.dup(2), "w", encoding="utf-8", errors="replace") as native,
        contextlib.redirect_stderr(native),
    ):
        yield


def _exit_with_parent(parent: int, started: threading.Event) -> None:
    """Until the backend has started, end this child as soon as its parent is gone: a
    killed app never asks for the backend it was waiting on (joining Ray can take
    minutes)."""
    while not started.wait(PARENT_CHECK_S):
        if os.getppid() != parent:
            os._exit(0)


def _serve(connection: Connection, factory: Callable[[], Backend]) -> None:
    """The child's main: build the backend, then answer calls until told to close."""
    os.dup2(2, 1)  # whatever the libraries print goes where fd 2 goes, never the terminal
    started = threading.Event()
    watch = threading.Thread(
        target=_exit_with_parent, args=(os.getppid(), started), name="parent-watch", daemon=True
    )
    watch.start()
    try:
        backend = factory()  # in the main thread: Ray installs its signal handlers there
    except Exception as error:  # the caller raises it
        started.set()
        _send_quietly(connection, (READY, False, _portable(error)))
        return
    started.set()
    if _send_quietly(connection, (READY, True, None)):
        asyncio.run(_serve_calls(connection, backend))
    else:
        asyncio.run(backend.close())


def _send_quietly(connection: Connection, reply: Reply) -> bool:
    """Send ``reply``; False (logged, not raised) when the caller is gone."""
    try:
        connection.send(reply)
    except (OSError, ValueError) as error:
        logger.info("reply %d not delivered: %s", reply[0], error)
        return False
    return True


async def _serve_calls(connection: Connection, backend: Backend) -> None:
    loop = asyncio.get_running_loop()
    incoming: asyncio.Queue[tuple[int, str, tuple[Any, ...]] | None] = asyncio.Queue()

    def receive() -> None:
        while True:
            try:
                message = connection.recv()
            except (EOFError, OSError):  # the caller is gone
                message = None
            loop.call_soon_threadsafe(incoming.put_nowait, message)
            if message is None or message[1] == CLOSE:
                return

    threading.Thread(target=receive, name="backend-calls", daemon=True).start()
    running: set[asyncio.Task[None]] = set()
    while (message := await incoming.get()) is not None:
        call_id, name, args = message
        if name == CLOSE:
            await _answer(connection, backend, call_id, "close", ())
            return
        task = asyncio.create_task(_answer(connection, backend, call_id, name, args))
        running.add(task)
        task.add_done_callback(running.discard)
    await backend.close()


async def _answer(
    connection: Connection, backend: Backend, call_id: int, name: str, args: tuple[Any, ...]
) -> None:
    try:
        reply: Reply = (call_id, True, await getattr(backend, name)(*args))
    except Exception as error:  # sent to the caller, who raises it
        reply = (call_id, False, _portable(error))
    _send_quietly(connection, reply)


class IsolatedBackend:
    """The :class:`~cluster.api.Backend` made by ``factory``, run in a child process.

    ``factory`` must pickle (a module-level function or a ``functools.partial`` of one):
    it is called in the child. Construction blocks until the child's backend is up
    (call it in a thread from async code) and raises what the factory raised.
    """

    def __init__(
        self, factory: Callable[[], Backend], *, start_timeout_s: float = START_TIMEOUT_S
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child_end, factory), name="rptui-backend", daemon=True
        )
        with _stderr_with_descriptor():
            self._process.start()
        child_end.close()
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._ids = itertools.count(READY + 1)
        self._lock = threading.Lock()
        self._ended: BackendProcessEnded | None = None
        try:
            if not self._connection.poll(start_timeout_s):
                raise BackendProcessEnded(f"the backend did not start in {start_timeout_s:.0f} s")
            _, ok, error = self._connection.recv()
        except (EOFError, OSError) as failure:
            self._kill()
            raise BackendProcessEnded("the backend process ended while starting") from failure
        except BackendProcessEnded:
            self._kill()
            raise
        if not ok:
            self._kill()
            raise error
        threading.Thread(target=self._receive, name="backend-replies", daemon=True).start()

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return self._process.pid

    def _receive(self) -> None:
        while True:
            try:
                call_id, ok, value = self._connection.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                waiting = self._pending.pop(call_id, None)
            if waiting is not None:
                loop, future = waiting
                loop.call_soon_threadsafe(_settle, future, ok, value)
        ended = BackendProcessEnded(f"the backend process (pid {self._process.pid}) ended")
        with self._lock:
            self._ended = ended
            pending, self._pending = self._pending, {}
        for loop, future in pending.values():
            loop.call_soon_threadsafe(_settle, future, False, ended)

    async def _call(self, name: str, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._ended is not None:
                raise self._ended
            call_id = next(self._ids)
            self._pending[call_id] = (loop, future)
            try:
                self._connection.send((call_id, name, args))
            except (OSError, ValueError) as error:
                self._pending.pop(call_id, None)
                raise BackendProcessEnded(f"the backend process is gone: {error}") from error
        try:
            return await future
        finally:
            with self._lock:
                self._pending.pop(call_id, None)

    async def add_annotation(self, item: AnnotatedImage) -> None:
        """See :class:`~cluster.api.Backend`."""
        await self._call("add_annotation", item)

    async def remove_annotation(self, name: str) -> None:
        """See :class:`~cluster.api.Backend`."""
        await self._call("remove_annotation", name)

    async def start_training(
        self, config: TrainingConfig, start_model: ModelSnapshot | None = None
    ) -> None:
        """See :class:`~cluster.api.Backend`."""
        await self._call("start_training", config, start_model)

    async def stop_training(self) -> None:
        """See :class:`~cluster.api.Backend`."""
        await self._call("stop_training")

    async def status(self) -> TrainerStatus:
        """See :class:`~cluster.api.Backend`."""
        return await self._call("status")

    async def newest_model(self, newer_than: int = 0) -> ModelSnapshot | None:
        """See :class:`~cluster.api.Backend`."""
        return await self._call("newest_model", newer_than)

    async def epoch_log(self, since_epoch: int = 0) -> list[EpochRecord]:
        """See :class:`~cluster.api.Backend`."""
        return await self._call("epoch_log", since_epoch)

    async def request_segmentation(self, request: SegmentationRequest) -> None:
        """See :class:`~cluster.api.Backend`."""
        await self._call("request_segmentation", request)

    async def cancel_segmentation(self, name: str) -> None:
        """See :class:`~cluster.api.Backend`."""
        await self._call("cancel_segmentation", name)

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        """See :class:`~cluster.api.Backend`."""
        return await self._call("segmentation", name, timeout)

    async def close(self) -> None:
        """Close the child's backend and end the child (killed if it does not end)."""
        try:
            await asyncio.wait_for(self._call(CLOSE), CLOSE_TIMEOUT_S)
        except Exception as error:  # ending the child is what matters
            logger.info("backend close: %s", error)
        await asyncio.to_thread(self._process.join, CLOSE_TIMEOUT_S)
        self._kill()

    def _kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(CLOSE_TIMEOUT_S)
        self._connection.close()


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the caller stopped waiting (a timeout)
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
