"""The U-Net: size, shapes, RootPainter's weight names, He initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cluster.nn.model import (
    PARAMETER_COUNT,
    UNetGNRes,
    count_parameters,
    is_valid_input_size,
    nearest_valid_input_size,
    valid_input_sizes,
)
from cluster.nn.snapshot import model_from_state_dict


def rootpainter_weight_table() -> dict[str, tuple[int, ...]]:
    """Key -> shape, RootPainter's saved weights, written out by hand."""
    table: dict[str, tuple[int, ...]] = {}

    def unit(prefix: str, conv: tuple[int, ...], channels: int) -> None:
        table[f"{prefix}.0.weight"] = conv
        table[f"{prefix}.0.bias"] = (channels,)
        table[f"{prefix}.2.weight"] = (channels,)
        table[f"{prefix}.2.bias"] = (channels,)

    table["conv_in.0.weight"] = (64, 3, 3, 3)
    table["conv_in.0.bias"] = (64,)
    table["conv_in.2.weight"] = table["conv_in.2.bias"] = (64,)
    table["conv_in.3.weight"] = (64, 64, 3, 3)
    table["conv_in.3.bias"] = (64,)
    table["conv_in.5.weight"] = table["conv_in.5.bias"] = (64,)
    for k in range(1, 5):
        unit(f"down{k}.conv1", (128, 64, 3, 3), 128)
        unit(f"down{k}.conv2", (128, 128, 3, 3), 128)
        table[f"down{k}.conv1x1.0.weight"] = (64, 128, 1, 1)
        unit(f"up{k}.conv1", (64, 64, 2, 2), 64)
        unit(f"up{k}.conv2", (64, 64, 3, 3), 64)
        unit(f"up{k}.conv3", (64, 64, 3, 3), 64)
    unit("conv_out", (2, 64, 1, 1), 2)
    return table


def test_parameter_count_matches_rootpainter() -> None:
    model = UNetGNRes()
    assert count_parameters(model) == PARAMETER_COUNT == 1_322_438
    table = rootpainter_weight_table()
    assert sum(math.prod(shape) for shape in table.values()) == 1_322_438


@pytest.mark.parametrize(("height", "width"), [(572, 572), (252, 252), (252, 316), (76, 124)])
def test_output_is_input_minus_72(height: int, width: int) -> None:
    model = UNetGNRes().eval()
    with torch.inference_mode():
        out = model(torch.rand(1, 3, height, width))
    assert out.shape == (1, 2, height - 72, width - 72)


def test_valid_sizes_include_rootpainters() -> None:
    sizes = valid_input_sizes(76, 572)
    assert all(572 - 16 * i in sizes for i in range(31))
    assert not is_valid_input_size(570)
    assert nearest_valid_input_size(570) == 572


@pytest.mark.parametrize("prefix", ["", "module."])
def test_rootpainter_state_dict_loads_strictly(prefix: str) -> None:
    generator = torch.Generator().manual_seed(0)
    state = {
        prefix + key: torch.randn(shape, generator=generator)
        for key, shape in rootpainter_weight_table().items()
    }
    model = model_from_state_dict(state)
    loaded = model.state_dict()
    assert set(loaded) == {key.removeprefix(prefix) for key in state}
    torch.testing.assert_close(loaded["up3.conv2.0.weight"], state[prefix + "up3.conv2.0.weight"])


def test_he_initialisation() -> None:
    torch.manual_seed(1)
    model = UNetGNRes()
    for name in ["conv_in.3", "down2.conv2.0", "up4.conv3.0"]:
        conv = model.get_submodule(name)
        assert isinstance(conv, nn.Conv2d)
        fan_in = conv.weight[0].numel()
        expected = math.sqrt(2.0 / fan_in)
        assert conv.weight.std().item() == pytest.approx(expected, rel=0.05)
        assert conv.bias is not None
        assert torch.count_nonzero(conv.bias) == 0
