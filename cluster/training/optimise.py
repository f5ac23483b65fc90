"""One optimiser step on a batch of tiles: SGD with Nesterov momentum, mixed precision."""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from cluster.nn.devices import DeviceInfo, autocast, memory_format
from cluster.nn.loss import masked_dice_ce_loss

log = logging.getLogger(__name__)


class Stepper:
    """Trains a model in place, one batch at a time (docs/method.md, Optimiser and schedule).

    SGD with Nesterov momentum and no weight decay or schedule; autocast in ``dtype``;
    a gradient scaler where CUDA trains in fp16.
    """

    def __init__(
        self,
        model: nn.Module,
        device: DeviceInfo,
        *,
        learning_rate: float,
        momentum: float,
        dtype: torch.dtype | None,
    ) -> None:
        self.model = model
        self.device = device
        self.dtype = dtype
        self.optimizer = torch.optim.SGD(
            model.parameters(),
            lr=learning_rate,
            momentum=momentum,
            nesterov=momentum > 0,
            weight_decay=0.0,
        )
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
        """Move the weights and the optimiser's momentum to ``device`` (in place: the
        optimiser keeps its parameters), e.g. to the CPU to free a GPU while idle."""
        self.model.to(device)
        for state in self.optimizer.state.values():
            for key, value in state.items():
                if isinstance(value, torch.Tensor):
                    state[key] = value.to(device)
