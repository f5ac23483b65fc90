"""An exponential moving average of the trained weights: the model that is validated and kept.

Small CPU batches move the weights far from one step to the next (SGD with momentum 0.99
did, and Adam on real root photos did too), so the model of any one moment is a noisy
draw, and picking the best of many noisy draws on a few validation images picks luck.
The average of the recent weights follows the same path with the noise smoothed out
(the network has GroupNorm only, no running statistics, so averaged weights are a
working model as they are).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from cluster.api import TrainingConfig
from cluster.nn.devices import DeviceInfo
from cluster.nn.snapshot import unwrap
from cluster.training.optimiser_choice import is_slow_device

WARMUP_STEPS = 10  # the decay starts low, so early weights (e.g. random ones) fade fast
# On a slow device (a CPU's small batches of 124-px tiles, Adam) the weights of one
# epoch and the next differed so much that validation F1 jumped by 0.07 an epoch and
# sometimes to 0; with the average of the last ~100 steps the kept model went from 0.38 to
# 0.66 on held-out peanut photos (benchmarks/RESULTS.md). A GPU: not measured, off.
SLOW_DEVICE_DECAY = 0.99


def average_decay(config: TrainingConfig, device: DeviceInfo) -> float:
    """The configured decay, or the device's default when unset (0: no average)."""
    if config.weight_average is not None:
        return config.weight_average
    return SLOW_DEVICE_DECAY if is_slow_device(device) else 0.0


class WeightAverage:
    """``average = decay * average + (1 - decay) * weights`` after every optimiser step.

    The decay of step ``t`` (counting from 0) is ``min(decay, (1 + t) / (WARMUP_STEPS + t))``.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(unwrap(model))
        self.model.requires_grad_(False)
        self.steps = 0

    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights."""
        decay = min(self.decay, (1 + self.steps) / (WARMUP_STEPS + self.steps))
        with torch.no_grad():
            for mine, theirs in zip(
                self.model.parameters(), unwrap(model).parameters(), strict=True
            ):
                mine.lerp_(theirs, 1.0 - decay)
        self.steps += 1

    def reset(self, model: nn.Module) -> None:
        """Start again from ``model``'s weights."""
        with torch.no_grad():
            for mine, theirs in zip(
                self.model.parameters(), unwrap(model).parameters(), strict=True
            ):
                mine.copy_(theirs)
        self.steps = 0

    def to(self, device: torch.device) -> None:
        self.model.to(device)
