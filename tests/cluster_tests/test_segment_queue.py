"""The pre-segmentation queue: order, duplicates, cancellation, staleness, bounds."""

from __future__ import annotations

import sys
import threading

import numpy as np

from cluster.api import Segmentation, SegmentationRequest
from cluster.backends.segment_queue import STALE_PRIORITY, SegmentationQueue


def _request(name: str, priority: int = 0) -> SegmentationRequest:
    return SegmentationRequest(name, np.zeros((4, 4, 3), np.uint8), priority)


def _result(name: str, version: int) -> Segmentation:
    return Segmentation(name, np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.float16), version)


def test_the_image_on_screen_jumps_the_queue() -> None:
    queue = SegmentationQueue()
    for i, name in enumerate(["b", "c", "d"]):
        queue.put(_request(name, priority=1 + i))
    queue.put(_request("a", priority=0))
    assert [queue.take(0).name for _ in range(4)] == ["a", "b", "c", "d"]  # type: ignore[union-attr]


def test_a_repeated_name_is_queued_once_with_its_newest_priority() -> None:
    queue = SegmentationQueue()
    queue.put(_request("x", priority=5))
    queue.put(_request("y", priority=3))
    queue.put(_request("x", priority=1))
    assert len(queue) == 2
    assert queue.take(0).name == "x"  # type: ignore[union-attr]
    assert queue.take(0).name == "y"  # type: ignore[union-attr]
    assert queue.take(0) is None


def test_cancelled_requests_are_never_served() -> None:
    queue = SegmentationQueue()
    queue.put(_request("gone", 0))
    queue.put(_request("kept", 1))
    assert queue.cancel("gone")
    assert not queue.cancel("never-queued")
    assert queue.take(0).name == "kept"  # type: ignore[union-attr]
    assert queue.take(0) is None


def test_results_from_an_older_model_are_requeued_at_low_priority() -> None:
    queue = SegmentationQueue()
    queue.store(_result("old", 1), np.zeros((4, 4, 3), np.uint8))
    queue.store(_result("new", 2), np.zeros((4, 4, 3), np.uint8))
    queue.put(_request("urgent", 0))
    assert queue.requeue_stale(2) == ["old"]
    assert queue.queued_names() == ["urgent", "old"]
    queue.take(0)
    stale = queue.take(0)
    assert stale is not None and stale.name == "old" and stale.priority == STALE_PRIORITY


def test_an_older_result_never_replaces_a_newer_one() -> None:
    queue = SegmentationQueue()
    image = np.zeros((4, 4, 3), np.uint8)
    queue.store(_result("a", 3), image)
    queue.store(_result("a", 2), image)
    assert queue.result("a").model_version == 3  # type: ignore[union-attr]


def test_kept_results_are_bounded() -> None:
    queue = SegmentationQueue(max_results=5)
    for i in range(50):
        queue.store(_result(f"img{i}", 1), np.zeros((4, 4, 3), np.uint8))
    assert queue.result("img49") is not None
    assert queue.result("img0") is None


def test_a_waiting_caller_gets_the_result_when_it_arrives() -> None:
    queue = SegmentationQueue()
    image = np.zeros((4, 4, 3), np.uint8)
    timer = threading.Timer(0.05, lambda: queue.store(_result("late", 1), image))
    timer.start()
    result = queue.wait_result("late", timeout=5)
    assert result is not None and result.model_version == 1
    assert queue.wait_result("never", timeout=0.01) is None


def _store_results(queue: SegmentationQueue, names: list[str], version: int) -> None:
    for name in names:
        queue.store(_result(name, version), np.zeros((4, 4, 3), np.uint8))


def test_the_image_on_screen_overtakes_a_full_queue_of_stale_refreshes() -> None:
    queue = SegmentationQueue(max_results=500)
    dataset = [f"img{i:03d}" for i in range(300)]
    _store_results(queue, dataset, version=1)
    assert len(queue.requeue_stale(2)) == len(dataset)  # a new model: the whole dataset again
    queue.take(0)  # the segmenter is busy with the first refresh
    queue.put(_request("img299", 0))  # the user reaches an image whose refresh waits last
    assert queue.take(0).name == "img299"  # type: ignore[union-attr]
    queue.put(_request("img150", 0))
    # the next model arrives while the image on screen waits: its refresh never demotes it
    queue.requeue_stale(3)
    assert queue.queued_names()[0] == "img150"
    assert queue.take(0).priority == 0  # type: ignore[union-attr]


def test_a_refresh_racing_the_request_of_the_image_on_screen_never_demotes_it() -> None:
    """The app's request lands while a new model's refreshes are being queued."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: widen every race
    try:
        for version in range(2, 12):
            queue = SegmentationQueue(max_results=500)
            dataset = [f"img{i:03d}" for i in range(300)]
            _store_results(queue, dataset, version=version - 1)
            refresh = threading.Thread(target=queue.requeue_stale, args=(version,))
            refresh.start()
            while len(queue) == 0 and refresh.is_alive():  # the refresh has begun
                pass
            queue.put(_request(dataset[-1], 0))  # the user is on the last refreshed image
            refresh.join()
            assert queue.queued_names()[0] == dataset[-1]
            assert queue.take(0).priority == 0  # type: ignore[union-attr]
    finally:
        sys.setswitchinterval(switch)
