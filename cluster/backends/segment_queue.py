"""The pre-segmentation queue: priorities, duplicates collapsed, cancellation, staleness.

Pure bookkeeping shared by the in-process backend and the Ray segmenter: no torch, no
Ray. The image on screen is asked for with the lowest priority number; a request for a
name already queued only updates it; results older than the newest model are queued
again at a low priority, in one step under the lock and never over a request already
queued (so a refresh can never push the image on screen behind the refreshes).

Memory is bounded. A queued request holds its image (the actors cannot read the
workspace), so the pending images may total at most ``max_pending_bytes`` (default
256 MiB, about 1,300 images of 256x256): past it the requests that would be served last
are dropped, as if cancelled (the app asks again for an image when it shows it; the
most urgent request is never dropped). Results with their images are kept up to
``max_results`` and ``max_result_bytes``. Superseded heap entries are swept once they
outnumber the live ones, so repeating a name never grows the queue.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from cluster.api import Segmentation, SegmentationRequest

log = logging.getLogger(__name__)

STALE_PRIORITY = 1_000  # results made by an older model are redone after everything else
MAX_RESULTS = 64  # results (with their images) kept; the oldest go first
MIB = 1024**2
MAX_PENDING_BYTES = 256 * MIB  # queued images held; the least urgent requests go first
MAX_RESULT_BYTES = 256 * MIB  # kept results with their images; the oldest go first
HEAP_SLACK = 32  # superseded heap entries tolerated before a sweep


@dataclass
class _Entry:
    request: SegmentationRequest
    serial: int


def _result_bytes(result: Segmentation, image: np.ndarray) -> int:
    return result.mask.nbytes + result.probability.nbytes + image.nbytes


class SegmentationQueue:
    """Thread-safe queue of segmentation requests with results kept by name."""

    def __init__(
        self,
        *,
        max_results: int = MAX_RESULTS,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        max_result_bytes: int = MAX_RESULT_BYTES,
    ) -> None:
        self._lock = threading.Condition()
        self._pending: dict[str, _Entry] = {}
        self._heap: list[tuple[int, int, str]] = []  # most urgent first
        self._back: list[tuple[int, int, str]] = []  # least urgent first (negated keys)
        self._serial = itertools.count()
        self._pending_bytes = 0
        self._max_pending_bytes = max_pending_bytes
        self._results: OrderedDict[str, tuple[Segmentation, np.ndarray]] = OrderedDict()
        self._result_bytes = 0
        self._max_results = max_results
        self._max_result_bytes = max_result_bytes

    def put(self, request: SegmentationRequest, *, demote: bool = True) -> bool:
        """Queue a request; a name already queued takes the new priority and image.

        With ``demote=False`` a request already queued at a more urgent (or the same)
        priority is kept as it is. Returns whether the request was queued.
        """
        with self._lock:
            return self._put_locked(request, demote=demote)

    def _put_locked(self, request: SegmentationRequest, *, demote: bool) -> bool:
        held = self._pending.get(request.name)
        if held is not None and not demote and held.request.priority <= request.priority:
            return False
        serial = next(self._serial)
        self._forget(request.name)
        self._pending[request.name] = _Entry(request, serial)
        self._pending_bytes += request.image.nbytes
        heapq.heappush(self._heap, (request.priority, serial, request.name))
        heapq.heappush(self._back, (-request.priority, -serial, request.name))
        self._drop_least_urgent()
        self._sweep()
        self._lock.notify_all()
        return True

    def _forget(self, name: str) -> _Entry | None:
        entry = self._pending.pop(name, None)
        if entry is not None:
            self._pending_bytes -= entry.request.image.nbytes
        return entry

    def _drop_least_urgent(self) -> None:
        """Drop the requests that would be served last until the images fit the bound."""
        dropped = 0
        while self._pending_bytes > self._max_pending_bytes and len(self._pending) > 1:
            _, negative_serial, name = heapq.heappop(self._back)
            entry = self._pending.get(name)
            if entry is not None and entry.serial == -negative_serial:
                self._forget(name)
                dropped += 1
        if dropped:
            log.debug(
                "queue over %d MiB: dropped %d requests", self._max_pending_bytes // MIB, dropped
            )

    def _sweep(self) -> None:
        """Rebuild the heaps from the live requests once superseded entries dominate."""
        if len(self._heap) + len(self._back) <= 4 * len(self._pending) + 2 * HEAP_SLACK:
            return
        live = [(e.request.priority, e.serial, name) for name, e in self._pending.items()]
        heapq.heapify(live)
        self._heap = live
        self._back = [(-priority, -serial, name) for priority, serial, name in live]
        heapq.heapify(self._back)

    def cancel(self, name: str) -> bool:
        """Drop a queued request; True when one was queued."""
        with self._lock:
            return self._forget(name) is not None

    def take(self, timeout: float | None = None) -> SegmentationRequest | None:
        """The most urgent request, waiting up to ``timeout`` seconds for one."""
        with self._lock:
            while True:
                while self._heap:
                    _, serial, name = heapq.heappop(self._heap)
                    entry = self._pending.get(name)
                    if entry is not None and entry.serial == serial:
                        self._forget(name)
                        self._sweep()
                        return entry.request
                if not self._lock.wait(timeout) and timeout is not None:
                    return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        """Bytes of the images of the queued requests."""
        with self._lock:
            return self._pending_bytes

    @property
    def heap_size(self) -> int:
        """Entries in the priority heap, superseded ones included."""
        with self._lock:
            return len(self._heap)

    def queued_names(self) -> list[str]:
        """Names waiting, most urgent first."""
        with self._lock:
            live = [
                (entry.request.priority, entry.serial, name)
                for name, entry in self._pending.items()
            ]
        return [name for _, _, name in sorted(live)]

    def store(self, result: Segmentation, image: np.ndarray) -> None:
        """Keep a result (and its image, to redo it when stale) unless a newer one exists."""
        with self._lock:
            old = self._results.get(result.name)
            if old is None or old[0].model_version <= result.model_version:
                if old is not None:
                    self._result_bytes -= _result_bytes(*old)
                self._results[result.name] = (result, image)
                self._result_bytes += _result_bytes(result, image)
                self._results.move_to_end(result.name)
                while len(self._results) > 1 and (
                    len(self._results) > self._max_results
                    or self._result_bytes > self._max_result_bytes
                ):
                    _, dropped = self._results.popitem(last=False)
                    self._result_bytes -= _result_bytes(*dropped)
            self._lock.notify_all()

    def result(self, name: str) -> Segmentation | None:
        with self._lock:
            kept = self._results.get(name)
            return kept[0] if kept else None

    def wait_result(self, name: str, timeout: float) -> Segmentation | None:
        """The result for ``name``, waiting up to ``timeout`` seconds for one to arrive."""
        with self._lock:
            self._lock.wait_for(lambda: name in self._results, timeout=timeout)
            kept = self._results.get(name)
            return kept[0] if kept else None

    def requeue_stale(self, model_version: int) -> list[str]:
        """Queue again, at low priority, every result made by a model older than this one.

        Done under the lock in one step: a request that arrives meanwhile (the image on
        screen, at priority 0) is never replaced by its stale refresh.
        """
        with self._lock:
            stale = [
                (name, image)
                for name, (result, image) in self._results.items()
                if result.model_version < model_version
            ]
            queued = [
                name
                for name, image in stale
                if self._put_locked(SegmentationRequest(name, image, STALE_PRIORITY), demote=False)
            ]
        return queued
