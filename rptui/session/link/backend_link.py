"""The one link between a review session and its backend: calls, training, offline and back.

Every backend call has a timeout; a failure switches the link offline (annotation goes
on: the session saves to the project) and the poll tries again with growing delays:
first the backend it had, then a fresh one from ``reconnect``. Back online, the trainer
is sent every annotation and training resumes if it was running. Masks go through
:attr:`BackendLink.masks` (:mod:`rptui.session.link.masks`). What happens is told to one
listener as typed events (:mod:`rptui.session.link.events`); the link imports no UI.

With ``follow=True`` (the app) the link keeps the screen's masks fresh by itself: it
asks again for the image on screen when a better model arrives, and the poll takes in
the scores of images asked for in uncertain order. ``rptui bench`` drives the same link
with ``follow=False`` and asks at the moments its simulated user looks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cluster.api import AnnotatedImage, Backend, TrainerStatus, TrainingConfig
from rptui.session.link.events import (
    BackendAttached,
    LinkEvent,
    Listener,
    Notice,
    StatusChanged,
    WentOffline,
)
from rptui.session.link.masks import MaskFetcher
from rptui.session.link.reconnect import Reconnector, close_quietly
from rptui.session.link.tasks import TaskGroups, Ticker
from rptui.session.link.wait import LinkTimings
from rptui.session.model_status import RUNNING, shown_status, split_counts, status_on_disk
from rptui.session.order import UNCERTAIN
from rptui.session.review import ReviewSession
from rptui.session.training import TrainingSync, ensure_start_model

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 60.0  # stopping waits for the current batch; sending every annotation
SYNC_INTERVAL_S = 2.0  # the poll: trainer status, new models, epoch records, scores
T = TypeVar("T")


def raise_if_cancelling() -> None:
    """Raise CancelledError when this task was asked to stop: before Python 3.12,
    ``asyncio.wait_for`` returns the call's result instead when the call ends at the moment
    of the cancel, and a loop of calls (awaiting a mask) would then never end. (Python
    3.10 cannot tell: its tasks do not count cancel requests.)"""
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    if cancelling is not None and cancelling():
        raise asyncio.CancelledError


class BackendLink:
    """Talks to ``backend`` (None: not yet, or offline) for ``session``.

    Args:
        session: the review session whose annotations train and whose images are segmented.
        backend: the backend to use now (see :meth:`attach` for one that comes later).
        training_config: what training starts with (the project's classes by default).
        start_training: start training as soon as a backend is attached (the demo).
        reconnect: builds a fresh backend when the one we had stopped answering (None:
            never; with no backend either, the link starts offline).
        timings: see :class:`LinkTimings`.
        follow: keep the screen's masks fresh by itself (see the module docstring).
    """

    def __init__(
        self,
        session: ReviewSession,
        backend: Backend | None = None,
        *,
        training_config: TrainingConfig | None = None,
        start_training: bool = False,
        reconnect: Callable[[], Backend | None] | None = None,
        timings: LinkTimings | None = None,
        follow: bool = True,
    ) -> None:
        project = session.project
        self.session = session
        self.backend = backend
        self.training_config = training_config or TrainingConfig(
            classes=tuple(project.config.classes)
        )
        self.start_training_when_attached = start_training
        self.reconnector = Reconnector(reconnect)
        self.timings = timings or LinkTimings()
        self.follow = follow
        self.listener: Listener | None = None
        self.offline = backend is None and reconnect is None  # else: connecting
        self.status: TrainerStatus | None = None
        self.on_disk = status_on_disk(project)  # what is shown until a trainer holds it
        self.model_version = self.on_disk.model_version
        self.sync: TrainingSync | None = None
        self.masks = MaskFetcher(self)
        self.tasks = TaskGroups()
        self._poll = Ticker(self.poll_once, lambda: SYNC_INTERVAL_S)
        self._syncing = False

    @property
    def shown_status(self) -> TrainerStatus:
        """What to show of training: the trainer's status once it holds the project's
        newest model, else what the project's files say (:mod:`rptui.session.model_status`)."""
        n_train, n_val = split_counts(self.session.project)
        on_disk = dataclasses.replace(self.on_disk, n_train=n_train, n_val=n_val)
        return shown_status(on_disk, self.status)

    @property
    def online(self) -> bool:
        """Whether there is a backend that answered its last call."""
        return self.backend is not None and not self.offline

    def tell(self, event: LinkEvent) -> None:
        """Hand an event to the listener, if any."""
        if self.listener is not None:
            self.listener(event)

    # -- calls ------------------------------------------------------------------------------
    async def call(self, call: Awaitable[T], timeout: float | None = None) -> T:
        """Await a backend call with a timeout; any failure switches to offline and re-raises
        (unless the backend was replaced meanwhile: a late failure of the old one is news
        of nothing)."""
        backend = self.backend
        try:
            result = await asyncio.wait_for(
                call, self.timings.call_s if timeout is None else timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("backend call failed: %s", error)
            if self.backend is backend:
                self._go_offline(f"{type(error).__name__}: {error}")
            raise
        raise_if_cancelling()
        return result

    def _go_offline(self, reason: str) -> None:
        first = not self.offline
        if first:
            self.offline = True
            # Training that was running resumes, with every annotation, once back.
            running = self.status is not None and self.status.state in RUNNING
            self.start_training_when_attached = self.start_training_when_attached or running
            self.reconnector.went_offline()
        self.tell(WentOffline(reason, first))

    def attach(self, backend: Backend | None) -> None:
        """Use a backend that became available (None: offline); a running trainer is
        followed, or training starts when it was asked for."""
        self.backend = backend
        self.offline = backend is None
        if backend is not None:
            if self.sync is not None and self.sync.backend is not backend:
                self.sync = None  # syncs with another backend's trainer fail: follow anew
            self.tasks.spawn("training", self._follow_trainer(backend), exclusive=True)
        self.tell(BackendAttached(backend))

    async def _follow_trainer(self, backend: Backend) -> None:
        """Follow a trainer that already runs (a reconnect), or start one when asked."""
        read_only = self.session.project.read_only
        try:
            status = await self.call(backend.status())
            if status.state in RUNNING and not read_only:
                self._sync_with(backend)
                await self.send_every_annotation()
            elif self.start_training_when_attached and not read_only:
                await self._toggle_training()
                return
        except Exception:  # call reported it
            return
        self._new_status(status)

    def _sync_with(self, backend: Backend) -> TrainingSync:
        """The training sync for ``backend`` (the one kept when it is the same backend)."""
        if self.sync is None or self.sync.backend is not backend:
            self.sync = TrainingSync(
                self.session.project, backend, model_version=self.model_version
            )
        return self.sync

    # -- annotations and training -----------------------------------------------------------
    async def send(self, items: list[AnnotatedImage]) -> None:
        """Send accepted annotations to the trainer."""
        backend = self.backend
        for item in items:
            if backend is not None:
                await self.call(backend.add_annotation(item))

    def send_soon(self, items: list[AnnotatedImage]) -> None:
        """Send accepted annotations in the background (nothing while offline: they are
        saved, and sent when the link is back)."""
        if items and self.online:
            self.tasks.spawn("send", self.send(items))

    async def send_every_annotation(self) -> None:
        """Send every saved annotation (the trainer replaces what it has by name)."""
        if self.sync is not None:
            await self.call(self.sync.send_annotations(), STOP_TIMEOUT_S)

    async def start_training(self) -> None:
        """Start training from the project's newest model (saved first if there is none),
        with every annotation; new models and epoch records then land in the project."""
        backend = self.backend
        if backend is None:
            raise RuntimeError("no backend to train on")
        start = await asyncio.to_thread(ensure_start_model, self.session.project)
        self.model_version = max(self.model_version, start.version)
        self.sync = TrainingSync(self.session.project, backend, model_version=start.version)
        await self.send_every_annotation()
        await self.call(backend.start_training(self.training_config, start))

    async def stop_training(self) -> None:
        """Stop training after the current batch (the best model is kept)."""
        if self.backend is not None:
            await self.call(self.backend.stop_training(), STOP_TIMEOUT_S)

    def toggle_training(self) -> None:
        """Start or stop training in the background (T); a refusal is told as a notice."""
        if not self.online:
            self.tell(Notice("offline: training needs a backend", warning=True))
        elif self.session.project.read_only:
            self.tell(Notice("read-only project: training is off", warning=True))
        else:
            self.tasks.spawn("training", self._toggle_training(), exclusive=True)

    async def _toggle_training(self) -> None:
        backend = self.backend
        if backend is None:
            return
        try:
            status = await self.call(backend.status())
            if status.state in RUNNING:
                self.tell(Notice("stopping training…"))
                await self.stop_training()
                self.tell(Notice("training stopped"))
            else:
                await self.start_training()
                self.tell(Notice("training started"))
        except Exception:  # call reported it
            return
        await self.sync_once()

    # -- the poll ---------------------------------------------------------------------------
    def start(self) -> None:
        """Poll every SYNC_INTERVAL_S until :meth:`stop`: sync while online (and, following
        the screen, take in scores); while offline, try to get back."""
        self._poll.start()

    def poll_once(self) -> None:
        """One poll (see :meth:`start`), its work in the background; the image lease of
        the item on screen is renewed now and then."""
        order = self.session.order
        self.session.keep_lease()
        if self.online and self.follow and order.mode == UNCERTAIN and order.scoring_names():
            self.tasks.spawn("scores", self.masks.collect_scores_quietly(), exclusive=True)
        if self.online and not self._syncing:
            self.tasks.spawn("sync", self.sync_once())
        elif self.offline and self.reconnector.due(self.backend):
            self.tasks.spawn("reconnect", self._reconnect(), exclusive=True)

    async def stop(self) -> None:
        """End the poll and the background work. Syncs and sends under way finish first:
        an epoch log saved by a cancelled sync would be saved again by the next."""
        await self._poll.stop()
        await self.tasks.end(finish=("sync", "send"))

    async def sync_once(self) -> None:
        """Save new epoch records and a better model into the project; tell the status."""
        backend = self.backend
        if backend is None or self._syncing:
            return
        self._syncing = True
        try:
            if self.sync is not None and not self.session.project.read_only:
                status = await self.call(self.sync.pull())
                if self.sync.model_version != self.on_disk.model_version:
                    self.on_disk = await asyncio.to_thread(status_on_disk, self.session.project)
            else:
                status = await self.call(backend.status())
                if status.state in RUNNING and not self.session.project.read_only:
                    # the project's one trainer, started by another app (or annotator):
                    # follow it, so its models land here and this screen's masks follow
                    self._sync_with(backend)
        except Exception:  # call reported it
            return
        finally:
            self._syncing = False
        self._new_status(status)

    def _new_status(self, status: TrainerStatus) -> None:
        self.status = status
        new_model = status.model_version > self.model_version and self.sync is not None
        if new_model:
            self.model_version = status.model_version
        self.tell(StatusChanged(status, new_model))
        if new_model and self.follow:
            # the image on screen is segmented again first, then stale scores (either order)
            self.masks.refresh()

    async def _reconnect(self) -> None:
        """Back online with the backend we had if it answers, else with a fresh one."""
        old = self.backend
        backend = await self.reconnector.try_again(old)
        if backend is None:
            return
        if old is not None and old is not backend:
            self.tasks.spawn("close-old", close_quietly(old))
        self.tell(Notice("back online: syncing annotations"))
        self.attach(backend)
