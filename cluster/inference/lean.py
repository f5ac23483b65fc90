"""The U-Net's forward pass for inference, holding fewer full-resolution maps at once.

The same layers run in the same order as :meth:`cluster.nn.model.UNetGNRes.forward`, on
the same inputs, so the output is the same to the bit. What changes is how long each
activation lives: a layer's input is let go as soon as its output exists, and a skip
connection is added in place and dropped once used. The plain forward keeps up to five
64-channel maps of a tile's full resolution alive together (the first skip, the
upsampled map and three convolution outputs); this one keeps at most three, which is
most of the memory a segmentation needs on a CPU (``benchmarks/RESULTS.md``, Engine, Memory).

Only where no gradients are recorded and the model is a plain :class:`UNetGNRes` with no
forward hooks of its own; anything else (training, DataParallel, a compiled model) runs
its own forward.
"""

from __future__ import annotations

import torch
from torch import nn

from cluster.nn.model import UNetGNRes, UpBlock

Held = list[torch.Tensor]  # a tensor handed over: the callee pops it, so nothing else holds it


def forward(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """``model(batch)``, with the lean pass where it gives the same result."""
    hooked = model._forward_hooks or model._forward_pre_hooks  # they expect model(batch)
    if type(model) is not UNetGNRes or hooked or torch.is_grad_enabled():
        return model(batch)
    return lean_forward(model, batch)


def lean_forward(net: UNetGNRes, batch: torch.Tensor) -> torch.Tensor:
    """The network's output for ``batch``; call without gradients (see :func:`forward`)."""
    skips = [_run(net.conv_in, [batch])]
    for down in (net.down1, net.down2, net.down3):
        skips.append(down(skips[-1]))
    held = [net.down4(skips[-1])]
    for up in (net.up1, net.up2, net.up3, net.up4):  # each takes the deepest skip left
        held = [_up(up, held, skips)]
    return _run(net.conv_out, held)


def _run(layers: nn.Sequential, held: Held) -> torch.Tensor:
    """A sequence of layers; each input is freed once the next layer's output exists."""
    x = held.pop()
    for layer in layers:
        x = layer(x)
    return x


def _up(block: UpBlock, held: Held, skips: Held) -> torch.Tensor:
    """:meth:`UpBlock.forward`, popping its input from ``held`` and its skip from ``skips``."""
    up = _run(block.conv1, held)
    skip = skips.pop()
    top = (skip.shape[2] - up.shape[2]) // 2
    left = (skip.shape[3] - up.shape[3]) // 2
    cropped = skip[:, :, top : top + up.shape[2], left : left + up.shape[3]]
    if cropped.dtype == up.dtype:
        up.add_(cropped)  # the same sum as ``up + cropped``, without a new map
    else:
        up = up + cropped  # mixed precision: keep the plain forward's type promotion
    del skip, cropped
    held = [up]
    del up
    return _run(block.conv3, [_run(block.conv2, held)])
