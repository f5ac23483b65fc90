"""How a segmentation run is planned: its device, batch size in pixels, tile shape and
the classes its models tell apart."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cluster.nn.devices import DeviceInfo
from cluster.nn.model import DEFAULT_TILE, is_valid_input_size
from cluster.nn.snapshot import unwrap
from cluster.nn.tiles import choose_tile_shape

# Input pixels per forward call on a CPU, for a peak RSS under 750 MiB when `rptui segment`
# segments a 2273x2550 photo (benchmarks/RESULTS.md, Engine, Memory); fp32 holds
# twice bf16's bytes per pixel, so its tiles are smaller
CPU_BATCH_PIXELS = {None: 280_000, torch.bfloat16: 480_000, torch.float16: 480_000}
MAX_TILE_PIXELS = 4 * DEFAULT_TILE**2  # GroupNorm sees at most ~2x the training tile's side
GPU_BYTES_PER_PIXEL = 4096  # generous per input pixel at fp32, for the GPU batch bound


def model_device(models: Sequence[nn.Module]) -> DeviceInfo:
    """Where the first model's weights live (CPU for models without any)."""
    for model in models:
        for tensor in model.parameters():
            return DeviceInfo(tensor.device, 0, 0)
    return DeviceInfo(torch.device("cpu"), 0, 0)


def default_batch_pixels(device: DeviceInfo, dtype: torch.dtype | None = None) -> int:
    """Input pixels per forward call: about 1.2-1.5 tiles of 572 on a CPU, more on a GPU."""
    on_cpu = CPU_BATCH_PIXELS.get(dtype, CPU_BATCH_PIXELS[None])
    if device.kind == "cuda" and device.memory_bytes:
        return max(on_cpu, device.memory_bytes // GPU_BYTES_PER_PIXEL)
    return on_cpu


def tile_for_model(training_tile: int) -> int | None:
    """The tile side to segment with a model trained on ``training_tile`` tiles.

    GroupNorm ties the network's output to the context a tile holds: a model trained on
    small tiles (a CPU's) segments markedly worse with large ones (held-out F1 0.69
    against 0.61 for a 124-px model), so it keeps its training tile. Models trained at
    the full 572 px choose their tiles per image (None), which wastes far less output.
    """
    return training_tile if training_tile < DEFAULT_TILE else None


def ensemble_tile(training_tiles: Sequence[int]) -> int | None:
    """The tile side for an ensemble: the smallest that any of its models needs, or None."""
    tiles = [tile for tile in map(tile_for_model, training_tiles) if tile is not None]
    return min(tiles) if tiles else None


def plan_tiles(
    height: int, width: int, *, tile_size: int | None, max_batch_pixels: int
) -> tuple[int, int]:
    """The input tile shape: ``tile_size`` square if given, else the least wasteful shape."""
    if tile_size is not None:
        if not is_valid_input_size(tile_size):
            raise ValueError(f"tile_size {tile_size} is not a valid network input size")
        return tile_size, tile_size
    bound = min(max_batch_pixels, MAX_TILE_PIXELS)
    return choose_tile_shape(height, width, max_tile_pixels=bound)


def output_count(model: nn.Module) -> int:
    """The classes a model tells apart (its softmax width): a U-Net's head, else 2."""
    head = getattr(unwrap(model), "conv_out", None)
    if isinstance(head, nn.Sequential) and isinstance(head[0], nn.Conv2d):
        return int(head[0].out_channels)
    return 2


def ensemble_classes(models: Sequence[nn.Module]) -> int:
    """The class count shared by an ensemble's models; ValueError when they differ."""
    counts = sorted({output_count(model) for model in models})
    if len(counts) > 1:
        raise ValueError(f"cannot ensemble models with different class counts {counts}")
    return counts[0]
