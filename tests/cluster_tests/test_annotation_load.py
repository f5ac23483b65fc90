"""Memory under load: the annotation store spills past its bound; the queue stays bounded."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    AnnotatedImage,
    Segmentation,
    SegmentationRequest,
)
from cluster.backends.segment_queue import SegmentationQueue
from cluster.training.annotation_store import AnnotationStore
from cluster.training.spill import MIB, SpillPool

TILE = 124
SIDE = 128
BOUND = 2 * MIB
COUNT = 200
QUEUED = 10_000
QUEUE_SIDE = 256


def _item(index: int, split: str = "train") -> AnnotatedImage:
    """An image whose pixels encode its index; labelled foreground where red is odd."""
    rng = np.random.default_rng(index)
    image = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    image[..., 2] = index % 256  # blue names the image, so a tile tells where it came from
    labels = np.where(image[..., 0] % 2 == 1, FOREGROUND, BACKGROUND).astype(np.uint8)
    return AnnotatedImage(f"img{index:03d}", image, labels, split)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AnnotationStore]:
    held = AnnotationStore(TILE, memory_bound=BOUND, spill_dir=tmp_path)
    for index in range(COUNT):
        held.set(_item(index, "val" if index % 6 == 0 else "train"))
    yield held
    held.close()


def test_resident_bytes_stay_under_the_bound_and_the_rest_is_on_disk(
    store: AnnotationStore,
) -> None:
    assert store.n_train + store.n_val == COUNT
    assert 0 < store.resident_bytes <= BOUND
    folder = store.pool.folder
    assert folder is not None and any(folder.iterdir())
    assert store.is_spilled("img001")  # the oldest went to disk
    assert not store.is_spilled(f"img{COUNT - 1:03d}")  # the newest stayed in memory
    assert len(store.validation_items()) == store.n_val


def test_spilled_annotations_are_sampled_as_often_and_with_their_own_labels(
    store: AnnotationStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cluster.training.sampler.augment", lambda i, lab, rng: (i / 255.0, lab))
    monkeypatch.setattr("cluster.training.sampler.normalise_tile", lambda tile, *_: tile)
    names = store.sampler.names()
    spilled = {name for name in names if store.is_spilled(name)}
    assert spilled and len(spilled) < len(names)
    rng = np.random.default_rng(0)
    draws, from_spilled = 1_500, 0
    for _ in range(draws):
        tile, labels = store.sampler.sample(rng)
        name = f"img{round(float(tile[2, 0, 0]) * 255):03d}"  # blue names the source
        assert name in names
        red = np.rint(tile[0] * 255).astype(np.uint8)[36:-36, 36:-36]
        inside = labels > 0  # padding is unlabelled; real pixels follow the red parity rule
        expected = np.where(red % 2 == 1, FOREGROUND, BACKGROUND)
        assert inside.any()
        assert np.array_equal(labels[inside], expected[inside])
        from_spilled += name in spilled
    # every annotation is equally likely, wherever its pixels are kept
    assert from_spilled / draws == pytest.approx(len(spilled) / len(names), abs=0.05)


def test_a_spilled_annotation_can_be_replaced_and_removed(store: AnnotationStore) -> None:
    assert store.is_spilled("img002")
    old_files = [Path(array.filename) for array in store.pool.get("train/img002")]
    assert all(path.exists() for path in old_files)
    changed = _item(2)
    changed.labels[:] = BACKGROUND
    assert store.set(changed)  # a change, not a resend
    assert not store.is_spilled("img002")  # the newest annotation is in memory
    assert store.resident_bytes <= BOUND
    assert not store.set(changed)  # a resend changes nothing
    assert not any(path.exists() for path in old_files)  # the old version's files are gone
    removed = [Path(array.filename) for array in store.pool.get("train/img003")]
    store.remove("img003")
    assert "img003" not in store.sampler.names()
    assert not any(path.exists() for path in removed)
    assert store.is_validation("img006") and not store.is_validation("img002")
    store.set(_item(6, "train"))  # a validation annotation moves to training
    assert not store.is_validation("img006")
    assert all(item.name != "img006" for item in store.validation_items())
    assert "img006" in store.sampler.names()


def test_close_deletes_the_spill_folder(store: AnnotationStore) -> None:
    folder = store.pool.folder
    assert folder is not None and folder.exists()
    store.close()
    assert not folder.exists()
    assert store.resident_bytes == 0


def test_spilled_arrays_read_back_exactly(tmp_path: Path) -> None:
    pool = SpillPool(memory_bound=0, directory=tmp_path)
    arrays = (np.arange(24, dtype=np.uint8).reshape(2, 4, 3), np.arange(5, dtype=np.int64))
    pool.put("a", arrays)
    assert pool.is_spilled("a") and pool.resident_bytes == 0
    back = pool.get("a")
    assert all(
        np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(back, arrays, strict=True)
    )
    pool.remove("a")
    assert back[0][1, 2, 0] == arrays[0][1, 2, 0]  # a map held elsewhere outlives the file
    pool.close()


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def test_ten_thousand_queued_requests_stay_within_the_queue_bound() -> None:
    bound = 32 * MIB
    queue = SegmentationQueue(max_pending_bytes=bound)
    image = np.zeros((QUEUE_SIDE, QUEUE_SIDE, 3), np.uint8)
    before = _rss_bytes()
    for index in range(QUEUED):
        # the app sends its own copy of each image; many requests repeat a name
        queue.put(SegmentationRequest(f"n{index % 7_000}", image.copy(), priority=index % 50))
    grown = _rss_bytes() - before
    assert queue.pending_bytes <= bound
    assert len(queue) == bound // image.nbytes
    assert grown < 2 * bound  # 10,000 images would be 1.9 GiB
    first = queue.take(0)
    assert first is not None and first.priority == 0  # the most urgent survive


def test_repeated_names_collapse_without_growing_the_queue() -> None:
    queue = SegmentationQueue()
    image = np.zeros((QUEUE_SIDE, QUEUE_SIDE, 3), np.uint8)
    for index in range(QUEUED):
        queue.put(SegmentationRequest(f"n{index % 3}", image, priority=index % 5))
    assert len(queue) == 3
    assert queue.pending_bytes == 3 * image.nbytes
    assert queue.heap_size <= 64  # stale heap entries are swept, not kept
    assert sorted(request.name for request in iter(lambda: queue.take(0), None)) == [
        "n0",
        "n1",
        "n2",
    ]


def test_kept_results_are_bounded_by_bytes() -> None:
    image = np.zeros((QUEUE_SIDE, QUEUE_SIDE, 3), np.uint8)
    mask = np.zeros((QUEUE_SIDE, QUEUE_SIDE), np.uint8)
    probability = np.zeros((QUEUE_SIDE, QUEUE_SIDE), np.float16)
    one = image.nbytes + mask.nbytes + probability.nbytes
    queue = SegmentationQueue(max_results=1_000, max_result_bytes=10 * one)
    for index in range(100):
        queue.store(Segmentation(f"r{index}", mask, probability, 1), image)
    assert queue.result("r99") is not None and queue.result("r90") is not None
    assert queue.result("r89") is None


def test_folders_left_by_a_dead_process_are_cleaned_up(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"rptui-spill-{dead.pid}-abc"
    stale.mkdir()
    (stale / "0-0.npy").write_bytes(b"old")
    pool = SpillPool(memory_bound=0, directory=tmp_path)
    pool.put("a", (np.ones(10, np.uint8),))
    assert not stale.exists()
    assert pool.folder is not None and pool.folder.exists()
    pool.close()
