"""The averaged weights a trainer keeps: steady under noisy steps, and what is validated."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cluster.api import BACKGROUND, FOREGROUND, AnnotatedImage, TrainingConfig
from cluster.io.model_metadata import WEIGHT_AVERAGE
from cluster.nn.devices import DeviceInfo, pick_device
from cluster.training.average import (
    SLOW_DEVICE_DECAY,
    WARMUP_STEPS,
    WeightAverage,
    average_decay,
)
from cluster.training.confusion import Confusion
from cluster.training.engine import TrainingEngine


def _set(model: nn.Module, value: float) -> None:
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(value)


def test_one_wild_step_moves_the_average_by_a_small_share() -> None:
    model = nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.95)
    _set(model, 1.0)
    for _ in range(200):  # long past the warm-up: the average has settled on 1
        average.update(model)
    _set(model, 101.0)  # one step far off
    average.update(model)
    weights = torch.cat([p.flatten() for p in average.model.parameters()])
    assert torch.allclose(weights, torch.full_like(weights, 1.0 + 0.05 * 100.0), atol=1e-3)


def test_the_first_steps_forget_the_starting_weights_fast() -> None:
    model = nn.Linear(3, 2)
    _set(model, 0.0)
    average = WeightAverage(model, decay=0.999)
    _set(model, 1.0)
    for _ in range(WARMUP_STEPS * 3):
        average.update(model)
    weights = torch.cat([p.flatten() for p in average.model.parameters()])
    assert weights.min() > 0.75  # a plain 0.999 average would still be under 0.03


def test_the_engine_validates_and_keeps_the_averaged_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With an average kept, the model judged and saved is the average, not the last step."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    labels = np.full((64, 64), BACKGROUND, dtype=np.uint8)
    labels[20:40, 20:40] = FOREGROUND
    config = TrainingConfig(tile_size=108, batch_size=2, epoch_tiles=6, seed=0, weight_average=0.9)
    engine = TrainingEngine(config, device=pick_device("cpu"), threads=1)
    engine.set_annotation(AnnotatedImage("t", image, labels, "train"))
    engine.set_annotation(AnnotatedImage("v", image, labels, "val"))
    judged: list[dict[str, np.ndarray]] = []
    scores = iter([Confusion(1, 9, 0, 9), Confusion(8, 1, 5, 1)])

    def validate(model: nn.Module, stop: object, swept: object = None) -> Confusion:
        judged.append({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})
        return next(scores)

    monkeypatch.setattr(engine, "_validate", validate)
    record = engine.run_epoch()
    assert record is not None and record.improved
    key = "conv_in.0.weight"
    kept = engine.best_snapshot().state_dict[key]
    trained = dict(engine._model.named_parameters())[key].detach().numpy()
    assert np.array_equal(kept, judged[-1][key])  # the judged weights are the ones kept
    assert not np.allclose(kept, trained)  # and they are not the last step's
    assert not np.allclose(kept, judged[0][key])  # nor the starting weights
    assert engine.best_snapshot().metadata[WEIGHT_AVERAGE] == "0.9"  # rptui models shows it


def test_a_cpu_keeps_an_average_by_default_and_a_gpu_only_when_asked() -> None:
    cpu = DeviceInfo(torch.device("cpu"), 0, 0)
    gpu = DeviceInfo(torch.device("cuda", 0), 1, 80 * 2**30)
    assert average_decay(TrainingConfig(), cpu) == SLOW_DEVICE_DECAY
    assert average_decay(TrainingConfig(), gpu) == 0.0
    assert average_decay(TrainingConfig(weight_average=0.0), cpu) == 0.0  # turned off
    assert average_decay(TrainingConfig(weight_average=0.9), gpu) == 0.9
    engine = TrainingEngine(TrainingConfig(tile_size=108, batch_size=2, epoch_tiles=6), device=cpu)
    assert engine._average is not None and engine._average.decay == SLOW_DEVICE_DECAY
