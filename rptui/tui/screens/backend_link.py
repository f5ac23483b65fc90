"""The annotate screen's link to its backend: training, trainer status, offline and back.

Every backend call has a timeout; any failure switches the screen offline (annotation
goes on) and a poll tries again with growing delays: first the backend it had, then a
fresh one from ``reconnect``. Back online, the trainer is sent every annotation and
training resumes if it was running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from textual.screen import Screen

from cluster.api import Backend, TrainerState, TrainerStatus, TrainingConfig
from rptui.session.order import UNCERTAIN
from rptui.session.review import ReviewSession
from rptui.session.training import TrainingSync, ensure_start_model
from rptui.tui.widgets.training_panel import TrainingPanel

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 10.0  # any backend call the app waits on
STOP_TIMEOUT_S = 60.0  # stopping waits for the current batch
RECONNECT_DELAYS_S = (2.0, 4.0, 8.0, 16.0, 30.0)  # between tries while offline; then the last
PROBE_TIMEOUT_S = 3.0  # is the backend we had answering again?
RECONNECT_TIMEOUT_S = 60.0  # a fresh connection may start a head
RUNNING = (TrainerState.TRAINING, TrainerState.IDLE)
T = TypeVar("T")


class BackendLink(Screen[None]):
    """A screen that trains and segments through a backend, and survives losing it.

    Subclasses show things: they provide ``_show_current``, ``refresh_status``,
    ``_presegment`` and ``_collect_scores``.
    """

    def __init__(
        self,
        session: ReviewSession,
        backend: Backend | None,
        *,
        training_config: TrainingConfig | None = None,
        start_training: bool = False,
    ) -> None:
        super().__init__()
        self.session = session
        self.backend = backend
        self.start_training = start_training
        self.training_config = training_config or TrainingConfig(
            classes=tuple(session.project.config.classes)
        )
        self.offline = backend is None
        self.status: TrainerStatus | None = None
        newest = session.project.newest_model()
        self.model_version = newest.number if newest is not None else 0
        self.sync: TrainingSync | None = None
        self._syncing = False
        # Builds a fresh backend when the one we had stopped answering (None: never).
        self.reconnect: Callable[[], Backend] | None = None
        self._reconnect_tries = 0
        self._next_reconnect = 0.0

    def _show_current(self, *, keep_view: bool = False) -> None:
        raise NotImplementedError

    def refresh_status(self, *, waiting: bool | None = None) -> None:
        raise NotImplementedError

    async def _presegment(self) -> None:
        raise NotImplementedError

    async def _collect_scores(self) -> None:
        raise NotImplementedError

    def set_backend(self, backend: Backend | None) -> None:
        """Attach a backend that became available (or None: offline)."""
        if not self.is_mounted:
            self.call_after_refresh(self.set_backend, backend)
            return
        self.backend = backend
        self.offline = backend is None
        if backend is None:
            self.query_one(TrainingPanel).show_offline("annotation still works")
        else:
            self.run_worker(self._follow_trainer(backend), group="training", exclusive=True)
        self._show_current(keep_view=True)

    async def _follow_trainer(self, backend: Backend) -> None:
        """Follow a trainer that already runs (a reconnect), or start one when asked."""
        try:
            status = await self._call(backend.status())
        except Exception:  # _call reported it
            return
        if status.state in RUNNING and not self.session.read_only:
            self.sync = TrainingSync(
                self.session.project, backend, model_version=self.model_version
            )
            await self._call(self.sync.send_annotations(), STOP_TIMEOUT_S)
        elif self.start_training and not self.session.read_only:
            await self._toggle_training()
            return
        self._new_status(status)

    async def _call(self, call: Awaitable[T], timeout: float = CALL_TIMEOUT_S) -> T:
        """Await a backend call with a timeout; any failure switches to offline and re-raises
        (unless the backend was replaced meanwhile: a late failure of the old one is news
        of nothing)."""
        backend = self.backend
        try:
            return await asyncio.wait_for(call, timeout)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("backend call failed: %s", error)
            if self.backend is backend:
                self._go_offline(f"{type(error).__name__}: {error}")
            raise

    def _go_offline(self, reason: str) -> None:
        if not self.offline:
            self.offline = True
            self.notify(f"offline: {reason}; annotation still works", severity="warning")
            # Training that was running resumes, with every annotation, once Ray is back.
            self.start_training = self.start_training or (
                self.status is not None and self.status.state in RUNNING
            )
            self._reconnect_tries = 0
            self._next_reconnect = time.monotonic() + RECONNECT_DELAYS_S[0]
        self.query_one(TrainingPanel).show_offline(reason[:60])
        self.refresh_status(waiting=False)

    def action_training(self) -> None:
        """Start or stop training."""
        if self.backend is None or self.offline:
            self.notify("offline: training needs a backend", severity="warning")
            return
        if self.session.read_only:
            self.notify("read-only project: training is off", severity="warning")
            return
        self.run_worker(self._toggle_training(), group="training", exclusive=True)

    async def _toggle_training(self) -> None:
        backend = self.backend
        assert backend is not None
        try:
            status = await self._call(backend.status())
            if status.state in RUNNING:
                self.notify("stopping training…")
                await self._call(backend.stop_training(), STOP_TIMEOUT_S)
                self.notify("training stopped")
            else:
                start = await asyncio.to_thread(ensure_start_model, self.session.project)
                self.sync = TrainingSync(self.session.project, backend, model_version=start.version)
                self.model_version = max(self.model_version, start.version)
                await self._call(self.sync.send_annotations(), STOP_TIMEOUT_S)
                await self._call(backend.start_training(self.training_config, start))
                self.notify("training started")
        except Exception:  # _call reported it
            return
        await self._sync_once()

    def _poll(self) -> None:
        online = self.backend is not None and not self.offline
        if online and self.session.order == UNCERTAIN and self.session.scoring_names():
            self.run_worker(self._collect_scores(), group="scores", exclusive=True)
        if online and not self._syncing:
            self.run_worker(self._sync_once(), group="sync")
        elif (
            self.offline and self.reconnect is not None and time.monotonic() >= self._next_reconnect
        ):
            self._next_reconnect = float("inf")  # until this try ends
            self.run_worker(self._try_reconnect(), group="reconnect", exclusive=True)

    async def _try_reconnect(self) -> None:
        """Back online with the backend we had if it answers, else with a fresh one."""
        backend = self.backend
        if backend is not None:
            try:
                await asyncio.wait_for(backend.status(), PROBE_TIMEOUT_S)
            except Exception as error:  # still gone: build a fresh one below
                log.info("backend still unreachable: %s", error)
                backend = None
        if backend is None and self.reconnect is not None:
            try:
                backend = await asyncio.wait_for(
                    asyncio.to_thread(self.reconnect), RECONNECT_TIMEOUT_S
                )
            except Exception as error:  # offline a while longer
                log.info("reconnect failed: %s", error)
        if backend is None:
            delay = RECONNECT_DELAYS_S[min(self._reconnect_tries, len(RECONNECT_DELAYS_S) - 1)]
            self._reconnect_tries += 1
            self._next_reconnect = time.monotonic() + delay
            return
        old = self.backend
        if old is not None and old is not backend:
            self.run_worker(self._close_quietly(old), group="close-old")
            if getattr(self.app, "backend", None) is old:
                self.app.backend = backend  # type: ignore[attr-defined]  # closed on exit
        self.notify("back online: syncing annotations")
        self.set_backend(backend)

    async def _close_quietly(self, backend: Backend) -> None:
        try:
            await asyncio.wait_for(backend.close(), PROBE_TIMEOUT_S * 5)
        except Exception as error:  # it is gone either way
            log.info("closing the old backend: %s", error)

    async def _sync_once(self) -> None:
        backend = self.backend
        if backend is None or self._syncing:
            return
        self._syncing = True
        try:
            if self.sync is not None and not self.session.read_only:
                status = await self._call(self.sync.pull())
            else:
                status = await self._call(backend.status())
        except Exception:  # _call reported it
            return
        finally:
            self._syncing = False
        self._new_status(status)

    def _new_status(self, status: TrainerStatus) -> None:
        self.status = status
        n_annotated = len(self.session.project.config.splits)
        self.query_one(TrainingPanel).record(status, n_annotated)
        if status.model_version > self.model_version and self.sync is not None:
            f1 = f"{status.best_f1:.2f}" if status.best_f1 is not None else "–"
            self.notify(f"a better model arrived: #{status.model_version} (F1 {f1})")
            self.model_version = status.model_version
            # the image on screen is segmented again first, then stale scores (either order)
            self.run_worker(self._presegment(), group="presegment", exclusive=True)
        self.refresh_status()
