"""Waiting for the mask of the image on screen: never stalled behind refreshes, never lost."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from cluster.api import Segmentation, SegmentationRequest
from cluster.backends.segment_queue import SegmentationQueue
from rptui.session.link.wait import SegmentationTimeout, await_segmentation

WAIT_S = 0.02
SHAPE = (8, 8)


def image() -> np.ndarray:
    return np.zeros((*SHAPE, 3), np.uint8)


class QueueBackend:
    """The segmenters' queue served one request per ``step_s`` by the model held."""

    def __init__(self, *, version: int, step_s: float = 0.01) -> None:
        self.queue = SegmentationQueue(max_results=500)
        self.version = version
        self.step_s = step_s
        self.served: list[tuple[str, int, int]] = []  # name, priority, model version
        self.lose = 0  # requests to drop, as a restarted segmenter loses its queue
        self.upgrade: tuple[str, int] | None = None  # (name, version): a model after name

    async def request_segmentation(self, request: SegmentationRequest) -> None:
        if self.lose:
            self.lose -= 1
            return
        self.queue.put(request)

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        return await asyncio.to_thread(self.queue.wait_result, name, timeout)

    def new_model(self, version: int) -> None:
        self.version = version
        self.queue.requeue_stale(version)

    async def serve_forever(self) -> None:
        while True:
            request = self.queue.take(0)
            if request is not None:
                mask = np.zeros(SHAPE, np.uint8)
                result = Segmentation(request.name, mask, mask.astype(np.float16), self.version)
                self.queue.store(result, request.image)
                self.served.append((request.name, request.priority, self.version))
                if self.upgrade is not None and self.upgrade[0] == request.name:
                    self.new_model(self.upgrade[1])
                    self.upgrade = None
            await asyncio.sleep(self.step_s)


async def test_the_image_on_screen_comes_before_a_whole_dataset_of_stale_refreshes() -> None:
    backend = QueueBackend(version=1, step_s=0.05)
    for i in range(200):  # the dataset, segmented by model 1
        mask = np.zeros(SHAPE, np.uint8)
        result = Segmentation(f"img{i:03d}", mask, mask.astype(np.float16), 1)
        backend.queue.store(result, image())
    worker = asyncio.create_task(backend.serve_forever())
    try:
        # the user opens img150 (its mask by model 1 is shown); model 2 is the newest,
        # but the segmenter still holds model 1: it redoes img150 with 1, then gets 2
        # and queues the whole dataset again behind everything
        backend.upgrade = ("img150", 2)
        current = SegmentationRequest("img150", image(), 0)
        await backend.request_segmentation(current)
        shown: list[int] = []
        result = await await_segmentation(
            backend,
            current,
            give_up_s=30,
            want_version=lambda: 2,
            on_result=lambda result: shown.append(result.model_version),
            wait_s=WAIT_S,
            ask_again_old_s=0.1,
        )
        assert shown == [1, 2]  # model 1's mask at once, model 2's when it came
        assert result is not None and result.model_version == 2
        redone = [name for name, _, version in backend.served if version == 2]
        # asked again first in line within ask_again_old_s, not after 200 refreshes
        assert redone.index("img150") <= 3
        assert ("img150", 0, 2) in backend.served
    finally:
        worker.cancel()


async def test_a_lost_request_is_asked_for_again() -> None:
    backend = QueueBackend(version=3)
    backend.lose = 1
    worker = asyncio.create_task(backend.serve_forever())
    try:
        current = SegmentationRequest("lost", image(), 0)
        await backend.request_segmentation(current)  # dropped
        result = await await_segmentation(
            backend, current, give_up_s=30, wait_s=WAIT_S, ask_again_s=0.2
        )
        assert result is not None and result.name == "lost" and result.model_version == 3
    finally:
        worker.cancel()


async def test_a_wait_with_no_result_ends_with_a_message() -> None:
    backend = QueueBackend(version=1)  # never served
    current = SegmentationRequest("never", image(), 0)
    with pytest.raises(SegmentationTimeout, match="no segmentation of never"):
        await await_segmentation(backend, current, give_up_s=0.3, wait_s=WAIT_S, ask_again_s=0.1)
    assert len(backend.queue) == 1  # asked again, still one request


async def test_leaving_the_image_ends_the_wait() -> None:
    backend = QueueBackend(version=1)
    current = SegmentationRequest("left", image(), 0)
    polls = iter([True, True, False])
    result = await await_segmentation(
        backend, current, give_up_s=30, still_wanted=lambda: next(polls), wait_s=WAIT_S
    )
    assert result is None
