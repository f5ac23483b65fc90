"""The segmenter actor: the pre-segmentation queue served by a thread inside a Ray actor.

A plain class: :mod:`cluster.backends.ray_backend` wraps it with ``ray.remote`` and
:mod:`cluster.backends.local` runs it in the calling process. Requests go into a
:class:`cluster.backends.segment_queue.SegmentationQueue` (priorities, duplicates
collapsed, cancellation); one worker thread segments the most urgent image with the
newest model. A watcher thread asks for a newer model every few seconds through the
``newest_model`` function it was given (over Ray, a call to the project's trainer actor;
in process, the trainer object itself); when one arrives, results made by older models
are queued again at low priority. Every result carries the version of the model that
made it. Its masks are shown for correction, so a binary one is cut at 0.5 whatever
threshold the model keeps for the masks it delivers (docs/method.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from torch import nn

from cluster.api import ModelSnapshot, Segmentation, SegmentationRequest
from cluster.backends.declared_gpus import warn_if_gpu_absent
from cluster.backends.segment_queue import SegmentationQueue
from cluster.inference.options import Cancelled
from cluster.inference.tiled import segment_request
from cluster.nn.devices import DeviceInfo, pick_device, prepare_model, resolve_precision
from cluster.nn.snapshot import model_from_snapshot

log = logging.getLogger(__name__)

SEGMENTER_PREFIX = "segmenter:"
MODEL_POLL_S = 2.0  # how often the trainer is asked for a newer model
TAKE_POLL_S = 0.2
PROCESSED_KEPT = 256


def segmenter_name(project: str) -> str:
    """The Ray actor name of a project's segmenter."""
    return SEGMENTER_PREFIX + project


# The best model if its version is above the argument, else None; may raise (asked again).
NewestModel = Callable[[int], ModelSnapshot | None]


@dataclass(frozen=True)
class Processed:
    """One finished request, for checks and debugging."""

    name: str
    priority: int
    model_version: int
    finished: float  # unix time


class SegmenterActor:
    """Segments queued images, most urgent first, with the newest model it has.

    ``newest_model`` is where newer models come from (None: only :meth:`set_model`).
    """

    def __init__(
        self,
        newest_model: NewestModel | None = None,
        *,
        tile_size: int | None = None,
        tta: bool = True,
        device: str | None = None,
        model_poll_s: float = MODEL_POLL_S,
    ) -> None:
        self._tile_size = tile_size
        self._tta = tta
        self._device: DeviceInfo = pick_device(device)
        self._device_note = warn_if_gpu_absent(self._device, "segmenter")
        self._dtype = resolve_precision(self._device, "auto")
        self._poll_s = model_poll_s
        self._queue = SegmentationQueue()
        self._lock = threading.Lock()
        self._model: tuple[int, nn.Module, int] | None = None  # version, net, its tile
        self._model_ready = threading.Event()
        self._current: str | None = None
        self._cancel_current = threading.Event()
        self._processed: deque[Processed] = deque(maxlen=PROCESSED_KEPT)
        self._closed = threading.Event()
        threading.Thread(target=self._serve, name="segmenter", daemon=True).start()
        if newest_model is not None:
            threading.Thread(
                target=self._watch, args=(newest_model,), name="model-watch", daemon=True
            ).start()

    # -- models ------------------------------------------------------------------------------
    def set_model(self, snapshot: ModelSnapshot) -> int:
        """Use ``snapshot`` if it is newer than the model held; returns the version in use."""
        with self._lock:
            if self._model is not None and self._model[0] >= snapshot.version:
                return self._model[0]
        model = prepare_model(model_from_snapshot(snapshot), self._device).eval()
        with self._lock:
            if self._model is None or self._model[0] < snapshot.version:
                self._model = (snapshot.version, model, snapshot.tile_size)
            version = self._model[0]
        self._model_ready.set()
        stale = self._queue.requeue_stale(version)
        log.info("model %d in use; %d stale results queued again", version, len(stale))
        return version

    def device(self) -> str:
        """Where it segments, with the note when the node's declared GPUs are absent."""
        described = self._device.describe()
        return f"{described} ({self._device_note})" if self._device_note else described

    def model_version(self) -> int:
        """Version of the model in use, 0 before the first one arrives."""
        with self._lock:
            return self._model[0] if self._model is not None else 0

    def _watch(self, newest_model: NewestModel) -> None:
        while not self._closed.is_set():
            try:
                snapshot = newest_model(self.model_version())
            except Exception as error:  # trainer absent or restarting: ask again later
                log.debug("no newer model yet: %s", error)
                snapshot = None
            if snapshot is not None:
                try:
                    self.set_model(snapshot)
                except Exception:  # a model that cannot be loaded: keep the one in use
                    log.exception("model %d not used", snapshot.version)
            self._closed.wait(self._poll_s)

    # -- the queue ---------------------------------------------------------------------------
    def request(self, *requests: SegmentationRequest) -> int:
        """Queue requests (a name already queued takes the new priority).

        Returns the version of the model in use (0: none yet, so the caller may send one).
        """
        for request in requests:  # own the pixels: object-store views would pin the store
            self._queue.put(replace(request, image=np.array(request.image, order="C")))
        return self.model_version()

    def cancel(self, name: str) -> bool:
        """Drop a queued request, or stop it if it is being segmented now."""
        dropped = self._queue.cancel(name)
        with self._lock:
            if self._current == name:
                self._cancel_current.set()
                dropped = True
        return dropped

    def queued(self) -> list[str]:
        """Names waiting, most urgent first."""
        return self._queue.queued_names()

    def result(self, name: str, timeout: float = 0.0) -> Segmentation | None:
        """The newest result for ``name``, waiting up to ``timeout`` seconds for one."""
        return self._queue.wait_result(name, timeout)

    def processed(self) -> list[Processed]:
        """Finished requests, oldest first (the last few hundred)."""
        with self._lock:
            return list(self._processed)

    def close(self) -> None:
        """End the worker and the watcher (the image being segmented is given up)."""
        self._closed.set()
        self._cancel_current.set()

    # -- the worker --------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._closed.is_set():
            if not self._model_ready.wait(TAKE_POLL_S):
                continue
            request = self._queue.take(timeout=TAKE_POLL_S)
            if request is None:
                continue
            try:
                self._segment(request)
            except Exception:  # the worker must outlive any failure, or every wait stalls
                log.exception("serving %s failed", request.name)

    def _segment(self, request: SegmentationRequest) -> None:
        with self._lock:
            assert self._model is not None
            version, model, model_tile = self._model
            self._current = request.name
            self._cancel_current.clear()
        try:
            result = segment_request(
                request,
                model,
                version=version,
                model_tile=model_tile,
                tile_size=self._tile_size,
                tta=self._tta,
                device=self._device,
                dtype=self._dtype,
                should_stop=self._cancel_current.is_set,
            )
        except Cancelled:
            log.debug("segmenting %s cancelled", request.name)
            return
        except Exception:  # one bad image must not end the segmenter
            log.exception("segmenting %s failed", request.name)
            return
        finally:
            with self._lock:
                self._current = None
        self._queue.store(result, request.image)
        with self._lock:
            self._processed.append(Processed(request.name, request.priority, version, time.time()))
        newest = self.model_version()
        if newest > version:  # a newer model arrived while this one was being made
            self._queue.requeue_stale(newest)
