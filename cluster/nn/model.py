"""The residual GroupNorm U-Net of RootPainter (docs/method.md, Model).

Layer structure and parameter names match RootPainter's saved state dicts, so its
model files load as they are. Input ``n`` → output ``n - 72``; 572 → 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import torch
from torch import nn

WIDTH = 64
GROUPS = 32
BORDER = 36  # pixels lost on each side: output = input - 2 * BORDER
DEFAULT_TILE = 572
PARAMETER_COUNT = 1_322_438

Weights = TypeVar("Weights")


def _conv_unit(c_in: int, c_out: int, *, padding: int) -> list[nn.Module]:
    """Convolution, then ReLU, then GroupNorm."""
    return [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=padding),
        nn.ReLU(inplace=True),
        nn.GroupNorm(GROUPS, c_out),
    ]


class DownBlock(nn.Module):
    """Max-pool, two padded conv units, a 1x1 projection back to 64, plus the pooled input."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.conv1 = nn.Sequential(*_conv_unit(WIDTH, 2 * WIDTH, padding=1))
        self.conv2 = nn.Sequential(*_conv_unit(2 * WIDTH, 2 * WIDTH, padding=1))
        self.conv1x1 = nn.Sequential(nn.Conv2d(2 * WIDTH, WIDTH, kernel_size=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x)
        return self.conv1x1(self.conv2(self.conv1(pooled))) + pooled


def _centre_crop(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    top = (t.shape[2] - height) // 2
    left = (t.shape[3] - width) // 2
    return t[:, :, top : top + height, left : left + width]


class UpBlock(nn.Module):
    """Transposed conv up, add the centre-cropped skip, two unpadded conv units."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.ConvTranspose2d(WIDTH, WIDTH, kernel_size=2, stride=2),
            nn.ReLU(inplace=True),
            nn.GroupNorm(GROUPS, WIDTH),
        )
        self.conv2 = nn.Sequential(*_conv_unit(WIDTH, WIDTH, padding=0))
        self.conv3 = nn.Sequential(*_conv_unit(WIDTH, WIDTH, padding=0))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.conv1(x)
        up = up + _centre_crop(skip, up.shape[2], up.shape[3])
        return self.conv3(self.conv2(up))


class UNetGNRes(nn.Module):
    """RootPainter's U-Net. Returns two maps per pixel (background, foreground logits).

    ``out_channels`` is 2 for binary projects; multi-class heads use more.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 2) -> None:
        super().__init__()
        self.conv_in = nn.Sequential(
            *_conv_unit(in_channels, WIDTH, padding=0), *_conv_unit(WIDTH, WIDTH, padding=0)
        )
        self.down1, self.down2, self.down3, self.down4 = (DownBlock() for _ in range(4))
        self.up1, self.up2, self.up3, self.up4 = (UpBlock() for _ in range(4))
        self.conv_out = nn.Sequential(
            nn.Conv2d(WIDTH, out_channels, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.GroupNorm(out_channels // 2 if out_channels % 2 == 0 else 1, out_channels),
        )
        he_initialise(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c0 = self.conv_in(x)
        d1 = self.down1(c0)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        d4 = self.down4(d3)
        u = self.up1(d4, d3)
        u = self.up2(u, d2)
        u = self.up3(u, d1)
        u = self.up4(u, c0)
        return self.conv_out(u)


def he_initialise(model: nn.Module) -> None:
    """He (Kaiming) normal initialisation of every convolution; zero biases."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def output_size(input_size: int) -> int | None:
    """The output side for an input side, or None when the network cannot take it."""
    size = input_size - 4  # conv_in: two unpadded 3x3 convolutions
    if size < 16:
        return None
    skips = [size]
    for _ in range(4):
        size //= 2
        skips.append(size)
    size = skips.pop()
    for skip in reversed(skips):
        size = size * 2
        if size > skip:
            return None
        size -= 4  # two unpadded 3x3 convolutions
        if size < 1:
            return None
    return size


def is_valid_input_size(input_size: int) -> bool:
    """True where the network maps ``n`` to ``n - 72`` (RootPainter's 572 - 16 i and more)."""
    return output_size(input_size) == input_size - 2 * BORDER


def valid_input_sizes(smallest: int = 76, largest: int = 2048) -> list[int]:
    """All valid input sides in a range, ascending."""
    return [n for n in range(smallest, largest + 1) if is_valid_input_size(n)]


def nearest_valid_input_size(wanted: int, *, at_least: int = 76) -> int:
    """The smallest valid input side >= ``wanted`` (and >= ``at_least``)."""
    n = max(wanted, at_least)
    while not is_valid_input_size(n):
        n += 1
    return n


def strip_parallel_prefix(state_dict: Mapping[str, Weights]) -> dict[str, Weights]:
    """Remove DataParallel's ``module.`` prefix from RootPainter's keys, where present."""
    prefix = "module."
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix) :]: v for k, v in state_dict.items()}
    return dict(state_dict)
