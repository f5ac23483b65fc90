"""Waiting for the mask of the image on screen: never stalled behind refreshes, never lost.

The backend link (:mod:`rptui.session.link.masks`) asks for the image on screen and then
waits here; each newer result is handed on at once, and the image is asked for again,
first in line, when nothing or only an older model's result comes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cluster.api import Backend, Segmentation, SegmentationRequest

log = logging.getLogger(__name__)

SEGMENT_WAIT_S = 1.0  # one wait for a segmentation; repeated while the image stays on screen
ASK_AGAIN_S = 15.0  # no result yet: ask again, first in line (a request may have been lost)
ASK_AGAIN_OLD_S = 3.0  # only a result older than wanted: ask again (it may wait behind refreshes)
MAX_OLD_ASKS = 3  # at most this often: a segmenter that never gets the model is not kept busy
CALL_TIMEOUT_S = 30.0  # a backend call other than the wait itself

Call = Callable[[Awaitable[Any], float], Awaitable[Any]]


LINK_CALL_TIMEOUT_S = 10.0  # any backend call the app waits on
SEGMENT_GIVE_UP_S = 300.0  # no mask for the image on screen this long: say so (U asks again)


@dataclass(frozen=True)
class LinkTimings:
    """How long the link waits: a call, the mask on screen, before asking again for it."""

    call_s: float = LINK_CALL_TIMEOUT_S
    give_up_s: float = SEGMENT_GIVE_UP_S
    ask_again_s: float = ASK_AGAIN_S


class SegmentationTimeout(TimeoutError):
    """No segmentation of the image on screen arrived in time."""


async def _plain_call(call: Awaitable[Any], timeout: float) -> Any:
    return await asyncio.wait_for(call, timeout)


async def await_segmentation(
    backend: Backend,
    request: SegmentationRequest,
    *,
    give_up_s: float,
    want_version: Callable[[], int] = lambda: 0,
    still_wanted: Callable[[], bool] = lambda: True,
    on_result: Callable[[Segmentation], None] | None = None,
    call: Call = _plain_call,
    wait_s: float = SEGMENT_WAIT_S,
    ask_again_s: float = ASK_AGAIN_S,
    ask_again_old_s: float = ASK_AGAIN_OLD_S,
    call_timeout_s: float = CALL_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
) -> Segmentation | None:
    """Wait for the mask of the image on screen, already asked for with ``request``.

    Each result newer than the last goes to ``on_result`` at once (the best there is is
    shown at once); the wait ends with one made by model ``want_version()`` or newer, or
    when ``still_wanted()`` turns false. Meanwhile the image is asked for again, first in
    line: every ``ask_again_s`` while nothing came (a request lost with a restarted
    segmenter, or a failed pass) and every ``ask_again_old_s`` while only results too old
    came (the segmenter had an older model and queued the image again behind the
    refreshes of the whole dataset; at most MAX_OLD_ASKS times). ``call(awaitable,
    timeout)`` runs each backend call (``call_timeout_s`` beyond the wait itself).

    Returns the newest result (None when the image left the screen first). Raises
    :class:`SegmentationTimeout` when none arrived in ``give_up_s`` seconds; a result
    older than wanted is kept quietly after that long.
    """
    best: Segmentation | None = None
    started = asked = clock()
    old_asks = 0
    while still_wanted():
        result = await call(backend.segmentation(request.name, wait_s), wait_s + call_timeout_s)
        fresh = result is not None and (best is None or result.model_version > best.model_version)
        if fresh:
            best = result
            if on_result is not None:
                on_result(result)
        if best is not None and best.model_version >= want_version():
            return best
        now = clock()
        if now - started > give_up_s:
            if best is None:
                raise SegmentationTimeout(f"no segmentation of {request.name} in {give_up_s:.0f} s")
            log.info("%s: kept the mask of model %d", request.name, best.model_version)
            return best
        if best is None and now - asked >= ask_again_s:
            await call(backend.request_segmentation(request), call_timeout_s)
            asked = now
        elif best is not None and old_asks < MAX_OLD_ASKS and now - asked >= ask_again_old_s:
            await call(backend.request_segmentation(request), call_timeout_s)
            asked, old_asks = now, old_asks + 1
        if result is not None:  # the backend answered at once with an older result
            await asyncio.sleep(wait_s)
    return best
