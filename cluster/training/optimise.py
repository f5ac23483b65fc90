"""One optimiser step on a batch of tiles (SGD with Nesterov momentum, or Adam), mixed precision."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from cluster.nn.devices import DeviceInfo, autocast, memory_format
from cluster.nn.loss import masked_dice_ce_loss
from cluster.training.optimiser_choice import OptimiserChoice

log = logging.getLogger(__name__)


def _optimiser(model: nn.Module, choice: OptimiserChoice) -> torch.optim.Optimizer:
    """SGD (Nesterov where there is momentum, no weight decay) or Adam, no schedule."""
    if choice.name == "adam":
        return torch.optim.Adam(model.parameters(), lr=choice.learning_rate)
    return torch.optim.SGD(
        model.parameters(),
        lr=choice.learning_rate,
        momentum=choice.momentum,
        nesterov=choice.momentum > 0,
        weight_decay=0.0,
    )


class Stepper:
    """Trains a model in place, one batch at a time (docs/method.md, Optimiser and schedule).

    The optimiser of ``choice`` (:mod:`cluster.training.optimiser_choice`); autocast in ``dtype``;
    a gradient scaler where CUDA trains in fp16.
    """

    def __init__(
        self,
        model: nn.Module,
        device: DeviceInfo,
        choice: OptimiserChoice,
        *,
        dtype: torch.dtype | None,
    ) -> None:
        self.model = model
        self.device = device
        self.dtype = dtype
        self.optimizer = _optimiser(model, choice)
        fp16_on_cuda = dtype == torch.float16 and device.kind == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if fp16_on_cuda else None

    def step(self, inputs: np.ndarray, labels: np.ndarray) -> float | None:
        """Train on N x 3 x T x T inputs and N x (T-72) x (T-72) labels.

        Returns the loss, or None when the batch held no labelled pixel or the loss was
        not finite (the weights are then left as they were).
        """
        if not labels.any():
            return None
        x = torch.from_numpy(inputs).to(self.device.device)
        x = x.contiguous(memory_format=memory_format(self.device))
        y = torch.from_numpy(labels).to(self.device.device, torch.long)
        self.model.train()
        with autocast(self.device, self.dtype):
            logits = self.model(x)
        loss = masked_dice_ce_loss(logits, y)
        if not torch.isfinite(loss):
            log.warning("non-finite training loss; batch skipped")
            return None
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return float(loss.detach())

    def move_to(self, device: torch.device) -> None:
        """Move the weights and the optimiser's state to ``device`` (in place: the
        optimiser keeps its parameters), e.g. to the CPU to free a GPU while idle. Adam's
        step counts stay on the host, where torch's (non-capturable) Adam wants them."""
        self.model.to(device)
        for state in self.optimizer.state.values():
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and key != "step":
                    state[key] = value.to(device)
