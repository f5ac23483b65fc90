"""A kept model records how it was made: annotations seen, settings, epoch and parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.api import TrainingConfig
from cluster.io.model_files import load_model_file, save_model
from cluster.io.model_metadata import (
    ANNOTATIONS_TRAIN,
    ANNOTATIONS_VAL,
    BATCH_SIZE,
    EPOCH,
    LAST_ANNOTATION,
    LEARNING_RATE,
    MOMENTUM,
    OPTIMISER,
    SOURCE_FILE,
    TILE_SIZE,
)
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.training.confusion import Confusion
from cluster.training.engine import TrainingEngine
from cluster.training.optimiser_choice import optimiser_choice
from tests.cluster_tests.test_train import CPU, TILE, _item

START_FILE = "000001_1700000000.pt"


def test_kept_models_record_annotations_settings_and_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = snapshot_from_model(UNetGNRes(), version=1, metadata={SOURCE_FILE: START_FILE})
    config = TrainingConfig(tile_size=TILE, batch_size=2, epoch_tiles=2, learning_rate=0.02, seed=0)
    engine = TrainingEngine(config, start=start, device=CPU, threads=2)
    for name, split, seed in (("a", "train", 0), ("v", "val", 1), ("b", "train", 2)):
        engine.set_annotation(_item(name, split, seed))
    rising = iter([Confusion(1, 9, 0, 9), Confusion(5, 3, 2, 3), Confusion(8, 1, 5, 1)])
    monkeypatch.setattr(engine, "_validate", lambda model, stop, swept=None: next(rising))

    first = engine.run_epoch()  # start scored, then epoch 1 beats it
    assert first is not None and first.improved
    kept = engine.best_snapshot()
    assert kept.parent == START_FILE  # the file training started from
    assert kept.metadata[EPOCH] == "1"
    assert (kept.metadata[ANNOTATIONS_TRAIN], kept.metadata[ANNOTATIONS_VAL]) == ("2", "1")
    assert kept.metadata[LAST_ANNOTATION] == "b"
    assert int(kept.metadata[TILE_SIZE]) == TILE == kept.tile_size
    assert int(kept.metadata[BATCH_SIZE]) == engine.batch_size
    assert float(kept.metadata[LEARNING_RATE]) == pytest.approx(0.02)
    assert float(kept.metadata[MOMENTUM]) == pytest.approx(optimiser_choice(config, CPU).momentum)
    assert kept.metadata[OPTIMISER] == optimiser_choice(config, CPU).name

    engine.set_annotation(_item("c", "train", 3))
    second = engine.run_epoch()
    assert second is not None and second.improved
    newer = engine.best_snapshot()
    assert newer.parent == str(kept.version)  # continued from the previous best
    assert (newer.metadata[EPOCH], newer.metadata[ANNOTATIONS_TRAIN]) == ("2", "3")
    assert newer.metadata[LAST_ANNOTATION] == "c"

    path = tmp_path / "000003_1700000100.pt"
    save_model(path, newer)
    read = load_model_file(path)
    assert (read.parent, read.metadata) == (newer.parent, newer.metadata)
