"""The training engine: patience, best-model keeping, validation on labels, threads."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from cluster.api import BACKGROUND, FOREGROUND, AnnotatedImage, TrainerState, TrainingConfig
from cluster.nn.devices import pick_device
from cluster.nn.model import BORDER
from cluster.training.confusion import Confusion, confusion
from cluster.training.engine import TrainingEngine
from cluster.training.loop import train_until
from cluster.training.validate import validate

log = logging.getLogger(__name__)

TILE = 108
CPU = pick_device("cpu")


def _item(name: str, split: str, seed: int, size: int = 64) -> AnnotatedImage:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    labels = np.zeros((size, size), dtype=np.uint8)
    labels[: size // 2, : size // 2] = BACKGROUND
    labels[size // 2 :, size // 2 :] = FOREGROUND
    image[labels == FOREGROUND] = 240
    return AnnotatedImage(name, image, labels, split)  # type: ignore[arg-type]


def _engine(**options: object) -> TrainingEngine:
    config = TrainingConfig(tile_size=TILE, batch_size=2, epoch_tiles=2, seed=0, **options)  # type: ignore[arg-type]
    engine = TrainingEngine(config, device=CPU, threads=2)
    engine.set_annotation(_item("t", "train", 0))
    engine.set_annotation(_item("v", "val", 1))
    return engine


class _Constant(nn.Module):
    """Says 'foreground' everywhere, with the U-Net's output size."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x[:, :2, BORDER:-BORDER, BORDER:-BORDER] * 0 + self.anchor
        out[:, 1] += 5.0
        return out


def test_f1_counts_labelled_pixels_only() -> None:
    labels = np.array([[0, 0, 1, 2], [2, 2, 1, 0]], dtype=np.uint8)
    prediction = np.array([[1, 1, 1, 1], [0, 1, 0, 1]], dtype=bool)
    counts = confusion(prediction, labels)
    assert (counts.tp, counts.fp, counts.tn, counts.fn) == (2, 1, 1, 1)
    assert counts.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_validation_ignores_unlabelled_pixels() -> None:
    """An all-foreground model is judged only where the user painted."""
    item = _item("v", "val", 2, size=80)
    counts = validate(_Constant(), [item], tile_size=TILE, batch_size=2, device=CPU, dtype=None)
    assert counts == Confusion(tp=40 * 40, fp=40 * 40, tn=0, fn=0)
    assert counts.f1 == pytest.approx(2 / 3)


def test_engine_is_ready_with_one_annotation_per_split() -> None:
    engine = TrainingEngine(TrainingConfig(tile_size=TILE, seed=0), device=CPU, threads=2)
    assert not engine.ready
    engine.set_annotation(_item("a", "train", 0))
    assert not engine.ready
    engine.set_annotation(_item("b", "val", 1))
    assert engine.ready
    engine.set_annotation(_item("b", "train", 1))  # moving splits leaves none in val
    assert (engine.n_train, engine.n_val, engine.ready) == (2, 0, False)
    assert engine.run_epoch() is None


def test_a_worse_epoch_keeps_the_best_model_and_its_f1(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine()
    scores = iter([Confusion(1, 9, 0, 9), Confusion(8, 1, 5, 1), Confusion(5, 3, 3, 4)])
    monkeypatch.setattr(engine, "_validate", lambda model, stop, swept=None: next(scores))
    first = engine.run_epoch()  # the start model is scored first, then epoch 1
    assert first is not None and first.improved
    best = engine.best_snapshot()
    assert best.version == 2 and best.f1 == pytest.approx(Confusion(8, 1, 5, 1).f1)
    worse = engine.run_epoch()
    assert worse is not None and not worse.improved and worse.f1 < best.f1
    assert engine.best_snapshot() is best  # same weights, F1 kept, not recomputed
    assert engine.epochs_since_best == 1
    assert [r.epoch for r in engine.epoch_log] == [1, 2]
    assert engine.status(TrainerState.TRAINING).model_version == 2


def test_a_changed_validation_set_rescores_the_best_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A best F1 measured on old validation labels must not block better models."""
    engine = _engine()
    scores = iter(
        [
            Confusion(8, 1, 5, 1),
            Confusion(9, 0, 6, 0),
            Confusion(3, 5, 1, 5),
            Confusion(2, 6, 1, 6),
            Confusion(4, 4, 1, 4),
        ]
    )
    monkeypatch.setattr(engine, "_validate", lambda model, stop, swept=None: next(scores))
    assert engine.run_epoch() is not None  # start 0.84, epoch 1 scores 1.0: kept
    assert engine.best_snapshot().version == 2
    engine.set_annotation(_item("v2", "val", 7))  # harder validation labels arrive
    record = engine.run_epoch()  # best rescored (0.375), epoch 2 scores 0.25
    assert record is not None and not record.improved
    assert engine.best_f1 == pytest.approx(Confusion(3, 5, 1, 5).f1)
    status = engine.status(TrainerState.TRAINING)  # both F1s: now, and when the best was kept
    assert (status.best_f1, status.saved_f1) == (engine.best_f1, pytest.approx(1.0))
    record = engine.run_epoch()  # 0.5 beats the rescored best, not the stale 1.0
    assert record is not None and record.improved and engine.best_snapshot().version == 3
    assert engine.status(TrainerState.TRAINING).saved_f1 == engine.best_f1


def test_patience_runs_out_and_a_new_annotation_resets_it() -> None:
    engine = _engine(patience=2, learning_rate=0.0)  # no learning: F1 never improves
    for _ in range(2):
        record = engine.run_epoch()
        assert record is not None and not record.improved
    assert engine.finished and engine.best_snapshot().version == 1
    engine.set_annotation(_item("t", "train", 0))  # the same annotation again
    assert engine.finished
    engine.set_annotation(_item("t2", "train", 5))
    assert engine.epochs_since_best == 0 and not engine.finished
    state = train_until(engine, should_stop=lambda: False)
    assert state is TrainerState.FINISHED and engine.epoch == 4


def test_the_optimiser_is_chosen_for_the_device_unless_configured() -> None:
    """A CPU trains with Adam at 0.001 by default, SGD there with momentum 0.9 when asked;
    a GPU keeps RootPainter's SGD with momentum 0.99; configured values are used as given."""
    from cluster.nn.devices import DeviceInfo
    from cluster.training.optimiser_choice import OptimiserChoice, optimiser_choice

    def momentum(engine: TrainingEngine) -> float:
        return float(engine._stepper.optimizer.param_groups[0]["momentum"])

    assert isinstance(_engine()._stepper.optimizer, torch.optim.Adam)
    assert momentum(_engine(optimizer="sgd")) == pytest.approx(0.9)
    assert momentum(_engine(optimizer="sgd", momentum=0.99)) == pytest.approx(0.99)
    assert momentum(_engine(momentum=0.95)) == pytest.approx(0.95), "a momentum asks for SGD"
    gpu = DeviceInfo(torch.device("cuda", 0), gpu_count=1, memory_bytes=80 << 30)
    assert optimiser_choice(TrainingConfig(), gpu) == OptimiserChoice("sgd", 0.01, 0.99)
    assert optimiser_choice(TrainingConfig(momentum=0.5), gpu).momentum == pytest.approx(0.5)
    assert optimiser_choice(TrainingConfig(optimizer="adam"), gpu) == OptimiserChoice(
        "adam", 0.001, 0.0
    )


def test_adam_trains_with_its_own_learning_rate_unless_one_is_given() -> None:
    """Adam's default rate is 0.001 (SGD's 0.01 would be ten times too large for it)."""
    engine = _engine(optimizer="adam")
    assert isinstance(engine._stepper.optimizer, torch.optim.Adam)
    assert engine._stepper.optimizer.param_groups[0]["lr"] == pytest.approx(0.001)
    assert _engine(optimizer="adam", learning_rate=0.0005).optimiser.learning_rate == 0.0005
    before = {k: v.clone() for k, v in engine._model.state_dict().items()}
    record = engine.run_epoch()
    assert record is not None
    changed = any(not torch.equal(before[k], v) for k, v in engine._model.state_dict().items())
    assert changed, "an Adam epoch left every weight as it was"


def test_a_released_accelerator_gets_weights_and_momentum_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped training parks the model in host memory; the next epoch carries on from it."""
    engine = _engine()
    assert engine.run_epoch() is not None
    moves: list[str] = []
    real_move = engine._stepper.move_to
    monkeypatch.setattr(engine._stepper, "move_to", lambda d: (moves.append(d.type), real_move(d)))
    before = {k: v.clone() for k, v in engine._stepper.optimizer.state_dict()["state"][0].items()}

    engine.release_device()  # a CPU has nothing to release
    assert moves == []
    host = engine.device
    monkeypatch.setattr(engine, "device", SimpleNamespace(kind="cuda", device=host.device))
    engine.release_device()
    engine.release_device()  # once is enough
    monkeypatch.setattr(engine, "device", host)  # (the GPU here is the host, renamed)
    assert moves == ["cpu"]
    after = engine._stepper.optimizer.state_dict()["state"][0]
    assert all(torch.equal(before[k], after[k]) for k in before), "momentum survives the move"
    assert engine.run_epoch() is not None, "training goes on"
    assert moves == ["cpu", "cpu"], "the next epoch moved the model back to its device"


def test_stopping_mid_epoch_returns_none_and_keeps_the_best() -> None:
    engine = _engine()
    best = engine.best_snapshot()
    calls = iter([False, True])
    assert engine.run_epoch(should_stop=lambda: next(calls, True)) is None
    assert engine.best_snapshot().version == best.version and engine.epoch == 0


def test_annotations_change_safely_while_an_epoch_runs() -> None:
    engine = TrainingEngine(
        TrainingConfig(tile_size=TILE, batch_size=2, epoch_tiles=16, seed=0),
        device=CPU,
        threads=2,
    )
    engine.set_annotation(_item("t", "train", 0))
    engine.set_annotation(_item("v", "val", 1))
    errors: list[BaseException] = []
    changes: list[int] = []
    done = threading.Event()

    def feed() -> None:
        try:
            index = 0
            while not done.is_set():
                changes.append(index)
                engine.set_annotation(_item(f"n{index % 4}", "train", index))
                engine.set_annotation(_item(f"w{index % 2}", "val", index))
                engine.remove_annotation(f"n{(index + 2) % 4}")
                index += 1
                time.sleep(0.005)  # a busy user, not a busy loop holding the GIL
        except BaseException as error:  # reported to the main thread
            errors.append(error)

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        record = engine.run_epoch()
    finally:
        done.set()
        thread.join()
    assert not errors and len(changes) > 10
    assert record is not None and record.tiles == 16
    assert record.tp + record.fp + record.tn + record.fn > 0


def _strokes(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The clear-example strokes a careful user paints first (no model shown)."""
    from cluster.simulate.clear_examples import clear_example_labels

    return clear_example_labels(mask, rng=rng)


LEARN_TILE = 172  # 100-px output: twice the labelled area per step of a 124 tile, ~same cost
LEARN_BATCH = 4  # 4 x 172 costs about what 8 x 124 did; batch 2 made F1 swing +-0.1
LEARN_EPOCH_TILES = 52  # 13 steps per epoch, as 104 tiles of batch 8 gave
LEARN_CLEAR_EPOCHS = 3  # on clear-example strokes, before the first correction
LEARN_ROUNDS = 5  # corrective rounds: the best model segments, every error is corrected
LEARN_ROUND_EPOCHS = 2
LEARN_SEED = 0
# Held-out F1 on 4 unseen images after the 5th round (every pixel / labelled-style pixels),
# measured on the shared 2-core dev CPU with
#   benchmarks/learning.py --tile 172 --batch 4 --epoch-tiles 52 --epochs 3
#   --corrective-rounds 5 --round-epochs 2 --threads 1 --seed S
# seed 0: 0.932 / 0.941, seed 1: 0.929 / 0.946, seed 2: 0.932 / 0.939 (after 4 rounds
# 0.899 / 0.931, 0.891 / 0.916, 0.841 / 0.929: the 5th round is what makes 0.9 reliable);
# this test (threads 2, seed 0) gave 0.917 / 0.940 in two runs, identical to the last digit
# (84 s of test time, idle machine). Clear strokes never mark a root's boundary nor the
# pebbles: after the 3 clear epochs it is 0.58-0.66 / 0.84-0.88, the
# corrections teach both. Predicting foreground everywhere scores ~0.1 / ~0.2.
# Before the generator painted every root pixel visibly (cluster/simulate/synthetic.py,
# MIN_ROOT_CONTRAST), faint root edges capped it: 124-px tiles, 4 rounds gave
# 0.74-0.83 / 0.85-0.90, and even dense labels (124-px tiles, 16 epochs of 104) reached only
# 0.84 (0.92 now).
# 13 epochs of 52 tiles: 676 tiles of 172 px, 14 % more pixels than the 1144 of 124 px
# before; ~11 s per epoch at one thread beside another run (~140 s of training).
LEARN_MIN_F1 = 0.90
LEARN_MIN_WHOLE_F1 = 0.90


def _correct(
    engine: TrainingEngine,
    annotated: list[tuple[np.ndarray, np.ndarray, np.ndarray, str]],
) -> None:
    """One corrective round: the best model segments each image, every error is painted."""
    from cluster.api import THRESHOLD
    from cluster.inference.tiled import segment_probability
    from cluster.nn.snapshot import model_from_snapshot
    from cluster.simulate.clear_examples import correction_labels

    model = model_from_snapshot(engine.best_snapshot()).eval()
    model = model.to(memory_format=torch.channels_last)
    for index, (image, mask, labels, split) in enumerate(annotated):
        probability = segment_probability(
            [model], image, tile_size=LEARN_TILE, tta=False, device=CPU, dtype=engine.dtype
        )
        labels = correction_labels(mask, probability > THRESHOLD, labels)
        annotated[index] = (image, mask, labels, split)
        engine.set_annotation(AnnotatedImage(f"r{index}", image, labels, split))  # type: ignore[arg-type]


@pytest.mark.timeout(1500)  # ~2 min on an idle 2-core machine; several times that when busy
def test_cpu_training_learns_roots_from_sparse_strokes_and_corrections() -> None:
    """Clear examples on 6+2 images, then corrective rounds; segment 4 unseen images."""
    from cluster.api import THRESHOLD
    from cluster.inference.tiled import segment_probability
    from cluster.nn.snapshot import model_from_snapshot
    from cluster.simulate.synthetic import generate_root_image

    config = TrainingConfig(
        tile_size=LEARN_TILE, batch_size=LEARN_BATCH, epoch_tiles=LEARN_EPOCH_TILES, seed=LEARN_SEED
    )
    engine = TrainingEngine(config, device=CPU, threads=2)
    annotated = []
    for index in range(8):
        image, mask = generate_root_image(seed=100 + index, root_probability=1.0)
        split = "val" if index < 2 else "train"
        labels = _strokes(mask, np.random.default_rng(100 + index))
        annotated.append((image, mask, labels, split))
        engine.set_annotation(AnnotatedImage(f"r{index}", image, labels, split))  # type: ignore[arg-type]
    for _ in range(LEARN_CLEAR_EPOCHS):
        assert engine.run_epoch() is not None
    for _ in range(LEARN_ROUNDS):
        _correct(engine, annotated)
        for _ in range(LEARN_ROUND_EPOCHS):
            assert engine.run_epoch() is not None

    model = model_from_snapshot(engine.best_snapshot()).eval()
    model = model.to(memory_format=torch.channels_last)
    held_out, whole = Confusion(), Confusion()
    for seed in range(900, 904):
        image, mask = generate_root_image(seed=seed, root_probability=1.0)
        probability = segment_probability(
            [model], image, tile_size=LEARN_TILE, tta=False, device=CPU, dtype=engine.dtype
        )
        predicted = probability > THRESHOLD
        held_out = held_out + confusion(predicted, _strokes(mask, np.random.default_rng(seed)))
        whole = whole + confusion(predicted, mask.astype(np.uint8) + 1)
    scores = f"held-out F1: labelled pixels {held_out.f1:.3f}, every pixel {whole.f1:.3f}"
    log.info(scores)
    assert whole.f1 >= LEARN_MIN_WHOLE_F1, scores
    assert held_out.f1 >= LEARN_MIN_F1, scores
