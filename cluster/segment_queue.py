"""The pre-segmentation queue: priorities, duplicates collapsed, cancellation, staleness.

Pure bookkeeping shared by the in-process backend and the Ray segmenter: no torch, no
Ray. The image on screen is asked for with the lowest priority number; a request for a
name already queued only updates it; results older than the newest model are queued
again at a low priority.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from cluster.api import Segmentation, SegmentationRequest

STALE_PRIORITY = 1_000  # results made by an older model are redone after everything else
MAX_RESULTS = 64  # results (with their images) kept; the oldest go first


@dataclass
class _Entry:
    request: SegmentationRequest
    serial: int


class SegmentationQueue:
    """Thread-safe queue of segmentation requests with results kept by name."""

    def __init__(self, *, max_results: int = MAX_RESULTS) -> None:
        self._lock = threading.Condition()
        self._pending: dict[str, _Entry] = {}
        self._heap: list[tuple[int, int, str]] = []
        self._serial = itertools.count()
        self._results: OrderedDict[str, tuple[Segmentation, np.ndarray]] = OrderedDict()
        self._max_results = max_results

    def put(self, request: SegmentationRequest) -> None:
        """Queue a request; a name already queued takes the new priority and image."""
        with self._lock:
            serial = next(self._serial)
            self._pending[request.name] = _Entry(request, serial)
            heapq.heappush(self._heap, (request.priority, serial, request.name))
            self._lock.notify_all()

    def cancel(self, name: str) -> bool:
        """Drop a queued request; True when one was queued."""
        with self._lock:
            return self._pending.pop(name, None) is not None

    def take(self, timeout: float | None = None) -> SegmentationRequest | None:
        """The most urgent request, waiting up to ``timeout`` seconds for one."""
        with self._lock:
            while True:
                while self._heap:
                    _, serial, name = heapq.heappop(self._heap)
                    entry = self._pending.get(name)
                    if entry is not None and entry.serial == serial:
                        del self._pending[name]
                        return entry.request
                if not self._lock.wait(timeout) and timeout is not None:
                    return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

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
                self._results[result.name] = (result, image)
                self._results.move_to_end(result.name)
                while len(self._results) > self._max_results:
                    self._results.popitem(last=False)
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
        """Queue again, at low priority, every result made by a model older than this one."""
        with self._lock:
            stale = [
                (name, image)
                for name, (result, image) in self._results.items()
                if result.model_version < model_version and name not in self._pending
            ]
        for name, image in stale:
            self.put(SegmentationRequest(name, image, STALE_PRIORITY))
        return [name for name, _ in stale]
