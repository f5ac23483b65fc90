"""The masks of a session, through its backend link: ask, await, collect scores.

A :class:`MaskFetcher` sends the requests the session's pre-segmenter plans (the slice
on screen, a stack's neighbouring slices, the next items or, in uncertain order, images
to score), awaits the mask of the image on screen (each newer result is shown at once)
and takes in the results asked for only to score images. The app and ``rptui bench``
both fetch masks this way: the bench awaits :meth:`MaskFetcher.presegment`, the app
runs it in the background (:meth:`MaskFetcher.refresh`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Protocol, TypeVar

import numpy as np

from cluster.api import Backend, Segmentation, SegmentationRequest
from cluster.io.image_limits import ImageReadError
from rptui.session.link.events import LinkEvent, MaskArrived, NoMask
from rptui.session.link.tasks import TaskGroups
from rptui.session.link.wait import LinkTimings, SegmentationTimeout, await_segmentation
from rptui.session.review import ReviewSession
from rptui.session.view import Viewer

log = logging.getLogger(__name__)

T = TypeVar("T")


class FetchingLink(Protocol):
    """What fetching masks uses of the link (the :class:`~.backend_link.BackendLink`)."""

    backend: Backend | None
    session: ReviewSession
    timings: LinkTimings
    model_version: int
    tasks: TaskGroups

    @property
    def online(self) -> bool: ...

    def tell(self, event: LinkEvent) -> None: ...

    async def call(self, call: Awaitable[T], timeout: float | None = None) -> T: ...


async def read_in_thread(viewer: Viewer, index: int, z: int) -> np.ndarray | None:
    """Slice ``z`` of item ``index``, read in a thread and kept for when it is shown;
    None (logged) when it cannot be read."""
    cached = viewer.cached_image(index, z)
    if cached is not None:
        return cached
    try:
        image = await asyncio.to_thread(viewer.read_slice, index, z)
    except (ImageReadError, OSError) as error:
        log.warning("not pre-segmented: %s", error)
        return None
    viewer.keep_image(index, z, image)
    return image


async def read_neighbours(viewer: Viewer) -> None:
    """Read the slices next to the one on screen (PageUp/PageDown show them next)."""
    index, z = viewer.index, viewer.z
    for near in (z + 1, z - 1):
        if 0 <= near < viewer.depth and viewer.index == index:
            await read_in_thread(viewer, index, near)


class MaskFetcher:
    """Segmentation requests and results of ``link``'s session (see the module docstring)."""

    def __init__(self, link: FetchingLink) -> None:
        self.link = link

    async def presegment(self, *, at_least: int | None = None) -> Segmentation | None:
        """Ask for the plan's images, then await the mask of the image on screen.

        The wait ends with a mask made by model ``at_least`` or newer (by default the
        newest model the link knows of, even one that arrives meanwhile; 0: the first
        mask, whichever model made it), or when the image leaves the screen. Returns the
        newest mask received (None: nothing to ask for, or the image left the screen).

        Raises:
            SegmentationTimeout: no mask came in the link's ``give_up_s``.
            Exception: a backend call failed (the link went offline).
        """
        link = self.link
        backend = link.backend
        if backend is None:
            return None
        session = link.session
        view = session.viewer
        shown = view.name
        plan = session.presegmenter.plan()
        current: SegmentationRequest | None = None
        for name in plan.cancels:
            await link.call(backend.cancel_segmentation(name))
        for index, z, priority in plan.slices:
            on_screen = (index, z) == (view.index, view.z)
            image = view.image if on_screen else await read_in_thread(view, index, z)
            if image is None:  # an upcoming image that cannot be read: shown when reached
                continue
            request = SegmentationRequest(view.name_of(index, z), image, priority)
            await link.call(backend.request_segmentation(request))
            current = request if on_screen else current
        if current is None:
            return None
        timings = link.timings
        return await await_segmentation(
            backend,
            current,
            give_up_s=timings.give_up_s,
            want_version=lambda: link.model_version if at_least is None else at_least,
            still_wanted=lambda: shown == view.name,
            on_result=self.receive,
            call=link.call,
            ask_again_s=timings.ask_again_s,
            call_timeout_s=timings.call_s,
        )

    def receive(self, result: Segmentation) -> None:
        """Keep a result (on disk, in the scores, on screen when it is the image there)."""
        shown = self.link.session.presegmenter.receive(result)
        self.link.tell(MaskArrived(result.name, shown))

    def refresh(self) -> bool:
        """Ask for the image on screen and those to come, and await its mask, in the
        background (a newer ask replaces the one running); False when offline."""
        if not self.link.online:
            return False
        self.link.tasks.spawn("presegment", self._presegment_quietly(), exclusive=True)
        return True

    async def _presegment_quietly(self) -> None:
        try:
            await self.presegment()
        except SegmentationTimeout as error:
            self.link.tell(NoMask(f"{error}; U asks again"))
        except Exception:  # the link's call reported it and went offline
            return

    async def collect_scores_quietly(self) -> None:
        """:meth:`collect_scores` in the background; the image on screen is asked for
        again when scores came (in uncertain order, the plan depends on them)."""
        try:
            received = await self.collect_scores()
        except Exception:  # the link's call reported it and went offline
            return
        if received:
            self.refresh()

    async def collect_scores(self) -> int:
        """Take in the results asked for only to score images; returns how many came."""
        link = self.link
        backend = link.backend
        if backend is None:
            return 0
        received = 0
        for name in link.session.order.scoring_names():
            result = await link.call(backend.segmentation(name, 0.0))
            if result is not None:
                self.receive(result)
                received += 1
        return received
