"""Which optimiser trains, with which learning rate and momentum (docs/method.md, Optimiser).

Fast devices (CUDA) follow RootPainter: SGD 0.01 with Nesterov momentum 0.99. Slow
devices (ours) train with Adam at 0.001, which learned real roots faster than SGD at
the same number of tiles; SGD there, when asked for, uses momentum 0.9.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cluster.api import TrainingConfig
from cluster.nn.devices import DeviceInfo

OptimiserName = Literal["sgd", "adam"]

# SGD momentum: RootPainter's 0.99 where steps hold 572-px tiles (a GPU's ~250,000
# labelled output pixels a tile). A slow device's small steps (~21,600 px) are far
# noisier, and 0.99 then swung the kept model between calling everything root and
# nothing from one epoch to the next; 0.9 averages over fewer, so noisier, steps but
# moves ten times less per gradient (docs/method.md, Optimiser; benchmarks/RESULTS.md).
METHOD_MOMENTUM = 0.99
SLOW_DEVICE_MOMENTUM = 0.9
DEFAULT_LEARNING_RATES: dict[str, float] = {"sgd": 0.01, "adam": 0.001}
FAST_DEVICE_OPTIMISER: OptimiserName = "sgd"
SLOW_DEVICE_OPTIMISER: OptimiserName = "adam"


def is_slow_device(device: DeviceInfo) -> bool:
    """True where RootPainter's 612-tile epoch would take far longer than ~30 s."""
    return device.kind != "cuda"


@dataclass(frozen=True)
class OptimiserChoice:
    """The optimiser's name and settings (momentum is SGD's; 0 for Adam)."""

    name: OptimiserName
    learning_rate: float
    momentum: float


def optimiser_choice(config: TrainingConfig, device: DeviceInfo) -> OptimiserChoice:
    """The configured optimiser and settings, each unset one chosen for the device (a
    momentum given without an optimiser asks for SGD, the optimiser that has one)."""
    slow = is_slow_device(device)
    name = config.optimizer
    if name is None:
        default = SLOW_DEVICE_OPTIMISER if slow else FAST_DEVICE_OPTIMISER
        name = "sgd" if config.momentum is not None else default
    learning_rate = (
        config.learning_rate if config.learning_rate is not None else DEFAULT_LEARNING_RATES[name]
    )
    if name != "sgd":
        return OptimiserChoice(name, learning_rate, 0.0)
    momentum = config.momentum
    if momentum is None:
        momentum = SLOW_DEVICE_MOMENTUM if slow else METHOD_MOMENTUM
    return OptimiserChoice(name, learning_rate, momentum)
