"""A binary model keeps the foreground threshold its validation favours (never below 0.5);
the masks it delivers are cut there, the masks shown for correction at 0.5."""

from __future__ import annotations

import dataclasses
import io
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    THRESHOLD,
    AnnotatedImage,
    ModelSnapshot,
    SegmentationRequest,
    TrainingConfig,
)
from cluster.backends.segmenter_actor import SegmenterActor
from cluster.batch.worker import BatchSettings, SegmentWorker
from cluster.inference.tiled import segment_probability
from cluster.io.model_files import model_to_bytes
from cluster.io.model_metadata import (
    FOREGROUND_THRESHOLD,
    ensemble_threshold,
    model_threshold,
)
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.training import engine as engine_module
from cluster.training.confusion import Confusion
from cluster.training.engine import TrainingEngine
from cluster.training.thresholds import CANDIDATES, chosen_threshold, threshold_confusions
from cluster.training.validate import validate_classes
from tests.cluster_tests.test_train import CPU, TILE, _item
from tests.cluster_tests.test_uncertainty import Constant

SHAPE = (90, 130)
NEAR = 0.01  # probabilities this close to a threshold may round either way in float16


def _labels() -> np.ndarray:
    """Left half background, right half foreground, a stripe unlabelled."""
    labels = np.full(SHAPE, BACKGROUND, dtype=np.uint8)
    labels[:, SHAPE[1] // 2 :] = FOREGROUND
    labels[:10] = 0
    return labels


def test_validation_picks_the_best_threshold_but_never_below_the_default() -> None:
    f1_peaks_low = {
        0.3: Confusion(8, 1, 0, 1),
        0.5: Confusion(6, 2, 0, 4),
        0.7: Confusion(5, 1, 0, 5),
    }
    assert chosen_threshold(f1_peaks_low) == THRESHOLD  # 0.3 is best: painted labels' bias
    higher = {0.5: Confusion(5, 5, 0, 1), 0.6: Confusion(5, 2, 0, 1), 0.7: Confusion(5, 1, 0, 1)}
    assert chosen_threshold(higher) == 0.7
    tied = {0.5: Confusion(5, 1, 0, 1), 0.8: Confusion(5, 1, 0, 1)}
    assert chosen_threshold(tied) == THRESHOLD  # no evidence, no move
    assert chosen_threshold({}) == THRESHOLD
    assert all(c >= THRESHOLD for c in (chosen_threshold({t: Confusion(1)}) for t in CANDIDATES))


def test_threshold_counts_cover_labelled_pixels_only() -> None:
    labels = _labels()
    probability = np.where(labels == FOREGROUND, 0.65, 0.35).astype(np.float32)
    counts = threshold_confusions(probability, labels)
    labelled_fg = int(np.count_nonzero(labels == FOREGROUND))
    labelled_bg = int(np.count_nonzero(labels == BACKGROUND))
    assert counts[0.3] == Confusion(labelled_fg, labelled_bg, 0, 0)  # everything called root
    assert counts[0.5] == counts[0.6] == Confusion(labelled_fg, 0, labelled_bg, 0)
    assert counts[0.7] == Confusion(0, 0, labelled_bg, labelled_fg)
    assert chosen_threshold(counts) == THRESHOLD  # 0.4–0.6 tie at F1 1: keep the default


def test_validation_counts_every_candidate_from_the_same_passes() -> None:
    labels = _labels()
    item = AnnotatedImage("v", np.zeros((*SHAPE, 3), dtype=np.uint8), labels, "val")
    swept: dict[float, Confusion] = {}
    (at_default,) = validate_classes(
        Constant(0.65),
        [item],
        tile_size=124,
        batch_size=2,
        device=CPU,
        dtype=None,
        by_threshold=swept,
    )
    assert sorted(swept) == sorted(CANDIDATES)
    assert swept[THRESHOLD] == at_default  # the same count the model is judged by
    fg = int(np.count_nonzero(labels == FOREGROUND))
    bg = int(np.count_nonzero(labels == BACKGROUND))
    assert swept[0.6] == Confusion(fg, bg, 0, 0) and swept[0.7] == Confusion(0, 0, bg, fg)


def test_a_kept_binary_model_records_the_threshold_validation_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = TrainingConfig(tile_size=TILE, batch_size=2, epoch_tiles=2, seed=0)
    engine = TrainingEngine(config, device=CPU, threads=2)
    engine.set_annotation(_item("t", "train", 0))
    engine.set_annotation(_item("v", "val", 1))
    start_model = (Confusion(1, 9, 0, 9), {})
    first_epoch = (Confusion(5, 5, 0, 1), {0.7: Confusion(5, 1, 0, 1)})  # 0.7 scores better
    scores = iter([start_model, first_epoch])

    def validate(*args: object, by_threshold: dict | None = None, **kwargs: object) -> tuple:
        at_default, swept = next(scores)
        if by_threshold is not None:
            by_threshold.update({THRESHOLD: at_default, **swept})
        return (at_default,)

    monkeypatch.setattr(engine_module, "validate_classes", validate)
    record = engine.run_epoch()  # the start model scored, then epoch 1 kept
    assert record is not None and record.improved
    kept = engine.best_snapshot()
    assert kept.metadata[FOREGROUND_THRESHOLD] == "0.7"
    assert model_threshold(kept.metadata) == 0.7


def test_a_multiclass_model_records_no_threshold() -> None:
    config = TrainingConfig(
        tile_size=TILE, batch_size=2, epoch_tiles=2, seed=0, classes=("background", "a", "b")
    )
    engine = TrainingEngine(config, device=CPU, threads=2)
    engine.set_annotation(_item("t", "train", 0))
    engine.set_annotation(_item("v", "val", 1))
    for _ in range(3):
        engine.run_epoch()
    assert engine.best_snapshot().version > 1  # something was kept
    assert FOREGROUND_THRESHOLD not in engine.best_snapshot().metadata


@pytest.mark.parametrize("text", ["abc", "1.5", "0", "nan", "-0.2", ""])
def test_a_damaged_threshold_falls_back_to_the_default(
    text: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert model_threshold({FOREGROUND_THRESHOLD: text}) == THRESHOLD
    assert "ignoring the model's threshold" in caplog.text


def test_models_without_a_threshold_use_the_default_and_ensembles_the_mean() -> None:
    assert model_threshold({}) == THRESHOLD
    assert model_threshold({FOREGROUND_THRESHOLD: "0.7"}) == 0.7
    assert ensemble_threshold([{FOREGROUND_THRESHOLD: "0.8"}, {}]) == pytest.approx(0.65)
    assert ensemble_threshold([]) == THRESHOLD


@pytest.fixture(scope="module")
def network() -> UNetGNRes:
    torch.manual_seed(0)
    return UNetGNRes().eval()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)


def _with_threshold(network: UNetGNRes, threshold: float, version: int = 2) -> ModelSnapshot:
    snapshot = snapshot_from_model(network, version=version, tile_size=124)
    return dataclasses.replace(snapshot, metadata={FOREGROUND_THRESHOLD: repr(threshold)})


def _cuts(network: UNetGNRes, photo: np.ndarray) -> tuple[float, float]:
    """Two thresholds inside the range the network's probabilities span on ``photo``."""
    probability = segment_probability([network], photo, tile_size=124, tta=False)
    low, high = np.quantile(probability, [0.3, 0.7])
    return float(low), float(high)


def _cut_at(
    mask: np.ndarray, probability: np.ndarray, threshold: float, *, against: float = THRESHOLD
) -> bool:
    """The mask is the probability cut at ``threshold`` (away from float16 rounding's
    reach) and not its cut at ``against`` (the choice made a difference)."""
    values = probability.astype(np.float32)
    clear = (np.abs(values - threshold) > NEAR) & (np.abs(values - against) > NEAR)
    said = mask[clear] > 0
    return bool(
        np.array_equal(said, values[clear] > threshold)
        and not np.array_equal(said, values[clear] > against)
    )


def test_masks_shown_for_correction_are_cut_at_the_default(
    network: UNetGNRes, photo: np.ndarray
) -> None:
    """A model that hid its over-calling behind a high threshold would never be corrected
    for it: the segmenter's masks (the app's) keep 0.5 whatever the model records."""
    threshold = max(_cuts(network, photo), key=lambda cut: abs(cut - THRESHOLD))
    segmenter = SegmenterActor(tile_size=124, device="cpu")
    try:
        segmenter.set_model(_with_threshold(network, threshold))
        segmenter.request(SegmentationRequest("a", photo))
        result = segmenter.result("a", timeout=60)
        assert result is not None
        assert not _cut_at(result.mask, result.probability, threshold)
        assert _cut_at(result.mask, result.probability, THRESHOLD, against=threshold)
    finally:
        segmenter.close()


def test_batch_workers_mask_with_the_ensembles_mean_threshold(
    network: UNetGNRes, photo: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    low, high = _cuts(network, photo)
    blobs = [model_to_bytes(_with_threshold(network, t, v)) for t, v in ((low, 2), (low, 3))]
    worker = SegmentWorker(blobs, BatchSettings(tta=False, fmt="npz", precision="fp32"), threads=1)
    assert worker.settings.threshold == pytest.approx(low)
    mixed = [model_to_bytes(_with_threshold(network, t, v)) for t, v in ((low, 2), (high, 3))]
    averaged = SegmentWorker(
        mixed, BatchSettings(tta=False, fmt="npz", precision="fp32"), threads=1
    )
    assert averaged.settings.threshold == pytest.approx((low + high) / 2)
    given = BatchSettings(tta=False, fmt="npz", precision="fp32", threshold=high)
    for segmenting, threshold in ((worker, low), (SegmentWorker(blobs, given, threads=1), high)):
        result = segmenting.one("photo.png", path.read_bytes())
        assert result.error == ""
        with np.load(io.BytesIO(result.mask)) as saved:
            assert _cut_at(saved["mask"], saved["probability"], threshold)
