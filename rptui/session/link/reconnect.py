"""Getting back online: when to try again, and the try itself.

While the link is offline its poll asks :meth:`Reconnector.due`; a try first asks the
backend it had (a head that came back), then builds a fresh one. Failed tries wait
longer each time (RECONNECT_DELAYS_S, then the last delay over and over).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cluster.api import Backend

log = logging.getLogger(__name__)

RECONNECT_DELAYS_S = (2.0, 4.0, 8.0, 16.0, 30.0)  # between tries while offline; then the last
PROBE_TIMEOUT_S = 3.0  # is the backend we had answering again?
RECONNECT_TIMEOUT_S = 60.0  # a fresh connection may start a head
CLOSE_TIMEOUT_S = 15.0  # the old backend, once a fresh one took over


class Reconnector:
    """Tries to get a backend again; ``build`` makes a fresh one (None: only the old one)."""

    def __init__(self, build: Callable[[], Backend | None] | None) -> None:
        self.build = build
        self._tries = 0
        self._next_try = 0.0  # the first try after a failed start is due at once

    def went_offline(self) -> None:
        """Start counting again: the first try comes after the first delay."""
        self._tries = 0
        self._next_try = time.monotonic() + RECONNECT_DELAYS_S[0]

    def due(self, had: Backend | None) -> bool:
        """Whether a try is due now (and there is something to try)."""
        possible = had is not None or self.build is not None
        return possible and time.monotonic() >= self._next_try

    async def try_again(self, had: Backend | None) -> Backend | None:
        """The backend we had if it answers, else a fresh one; None (the next try then
        waits longer) when neither came."""
        self._next_try = float("inf")  # until this try ends
        backend = had
        if backend is not None:
            try:
                await asyncio.wait_for(backend.status(), PROBE_TIMEOUT_S)
            except Exception as error:  # still gone: build a fresh one below
                log.info("backend still unreachable: %s", error)
                backend = None
        if backend is None and self.build is not None:
            try:
                backend = await asyncio.wait_for(asyncio.to_thread(self.build), RECONNECT_TIMEOUT_S)
            except Exception as error:  # offline a while longer
                log.info("reconnect failed: %s", error)
        if backend is None:
            delay = RECONNECT_DELAYS_S[min(self._tries, len(RECONNECT_DELAYS_S) - 1)]
            self._tries += 1
            self._next_try = time.monotonic() + delay
        return backend


async def close_quietly(backend: Backend) -> None:
    """Close a backend that was replaced (it is gone either way)."""
    try:
        await asyncio.wait_for(backend.close(), CLOSE_TIMEOUT_S)
    except Exception as error:  # it is gone either way
        log.info("closing the old backend: %s", error)
