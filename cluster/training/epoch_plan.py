"""How long an epoch is and which tile a slow device trains on (docs/method.md, Epochs).

Fast devices (CUDA) follow RootPainter: 572 tiles, max(612, 2 x training annotations)
tiles per epoch. Slow devices (CPU, MPS) keep the *timing* instead (ours): a smaller
valid tile and as many tiles as the device trains in about 30 s, never fewer than
2 x training annotations.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from cluster.api import TrainingConfig
from cluster.nn.devices import MAX_BATCH, DeviceInfo, autocast, default_batch_size, memory_format
from cluster.nn.model import BORDER, DEFAULT_TILE, is_valid_input_size
from cluster.training.optimiser_choice import is_slow_device

log = logging.getLogger(__name__)

METHOD_EPOCH_TILES = 612  # docs/method.md: epoch = max(612, 2 x training annotations) tiles
TILES_PER_ANNOTATION = 2
# Slow-device tile candidates, ascending: the largest whose timed epoch still holds
# MIN_EPOCH_TILES tiles wins. On the 2-core dev CPU (bf16, batch 2) a step took
# 0.10 s at 124, 0.27 s at 188, 0.55 s at 252, 0.89 s at 316.
SLOW_TILE_CANDIDATES = (188, 252, 316, 380, 444, 508, DEFAULT_TILE)
MIN_EPOCH_TILES = 96
# What the engine plans with: the small 124 tile joins the candidates and a larger tile
# must fill an epoch with far more tiles. On the 2-core dev CPU with the demo's data
# (5 train + 1 val clear-example images, F1 on 8 unannotated images), 124 at batch 8 reached
# held-out F1 0.52 after 29 s and 0.60 after 60 s of training; 188 at batch 2 reached 0.48
# after 65 s and 0.52 after 95 s; 188 at batch 8 0.46 after 42 s (learning test setting).
# Here 188 measures 0.14-0.27 s per tile (110-220 per 30 s), so 124 is chosen; a device
# twice as fast still gets 188.
PLANNED_TILE_CANDIDATES = (124, *SLOW_TILE_CANDIDATES)
PLANNED_MIN_EPOCH_TILES = 256
FALLBACK_SLOW_TILE = 124
# Labelled output pixels per step below which SGD with momentum 0.99 swings: batch 2 of
# 124-px tiles (2 x 52^2 px) moved held-out F1 by +-0.1 between epochs; batch 8 (21,632 px)
# rose steadily (benchmarks/learning.py). 572-px tiles at
# RootPainter's batch hold far more.
MIN_STEP_OUTPUT_PIXELS = 8 * 52 * 52


def small_tile_batch(tile_size: int, batch_size: int) -> int:
    """``batch_size`` raised towards MIN_STEP_OUTPUT_PIXELS outputs per step (at most 12)."""
    output = max(1, tile_size - 2 * BORDER)
    wanted = min(MAX_BATCH, math.ceil(MIN_STEP_OUTPUT_PIXELS / output**2))
    return max(batch_size, wanted)


def epoch_length(
    n_train: int,
    *,
    seconds_per_tile: float | None = None,
    target_epoch_seconds: float = 30.0,
    fixed: int | None = None,
) -> int:
    """Tiles in one epoch.

    RootPainter's max(612, 2 x n_train) where the device is fast (``seconds_per_tile`` is
    None); on a slow device as many tiles as fit in ``target_epoch_seconds``, never fewer
    than 2 x n_train. ``fixed`` overrides both.
    """
    if fixed is not None:
        return max(1, fixed)
    floor = TILES_PER_ANNOTATION * n_train
    if seconds_per_tile is None:
        return max(METHOD_EPOCH_TILES, floor)
    timed = round(target_epoch_seconds / max(seconds_per_tile, 1e-9))
    return max(1, floor, timed)


def epoch_complete(
    tiles: int,
    elapsed: float,
    *,
    n_train: int,
    slow: bool,
    target_epoch_seconds: float = 30.0,
    fixed: int | None = None,
) -> bool:
    """Whether an epoch that has trained ``tiles`` in ``elapsed`` seconds is over.

    Fast devices count tiles (:func:`epoch_length`); slow ones run for the target time,
    measured live so a warming-up or shared machine still gets ~30 s epochs, and never
    stop before 2 x n_train tiles. ``fixed`` tiles override both.
    """
    if fixed is not None or not slow:
        return tiles >= epoch_length(n_train, fixed=fixed)
    return tiles >= max(1, TILES_PER_ANNOTATION * n_train) and elapsed >= target_epoch_seconds


def plan_slow_tile(
    seconds_per_tile: Callable[[int], float],
    *,
    target_epoch_seconds: float = 30.0,
    min_tiles: int = MIN_EPOCH_TILES,
    candidates: Sequence[int] = SLOW_TILE_CANDIDATES,
) -> tuple[int, float]:
    """The largest candidate tile whose epoch holds ``min_tiles`` in the target time.

    ``seconds_per_tile(size)`` measures (or models) one training tile; candidates are
    tried in ascending order and measuring stops at the first that is too slow.
    Returns (tile size, its seconds per tile).
    """
    ordered = sorted(candidates)
    chosen, chosen_seconds = ordered[0], seconds_per_tile(ordered[0])
    for size in ordered[1:]:
        seconds = seconds_per_tile(size)
        if target_epoch_seconds / seconds < min_tiles:
            break
        chosen, chosen_seconds = size, seconds
    return chosen, chosen_seconds


def measure_seconds_per_tile(
    model: nn.Module,
    device: DeviceInfo,
    *,
    tile_size: int,
    batch_size: int,
    dtype: torch.dtype | None,
    repeats: int = 1,
) -> float:
    """Time forward + backward on random tiles (after one warm-up); weights are untouched."""
    inputs = torch.rand(batch_size, 3, tile_size, tile_size, device=device.device)
    inputs = inputs.contiguous(memory_format=memory_format(device))
    was_training = model.training
    model.train()
    best = float("inf")
    for index in range(repeats + 1):
        start = time.perf_counter()
        with autocast(device, dtype):
            out = model(inputs)
        out.float().mean().backward()
        if device.kind == "cuda":
            torch.cuda.synchronize(device.device)
        if index > 0:
            best = min(best, time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return best / batch_size


def plan_tile_for(
    model: nn.Module,
    device: DeviceInfo,
    *,
    batch_size: int,
    dtype: torch.dtype | None,
    target_epoch_seconds: float,
) -> tuple[int, float | None]:
    """The training tile for a device: 572 on fast ones, a measured choice on slow ones.

    Returns (tile size, seconds per tile measured for it; None on fast devices).
    """
    if not is_slow_device(device):
        return DEFAULT_TILE, None

    def timed(size: int) -> float:
        return measure_seconds_per_tile(
            model, device, tile_size=size, batch_size=batch_size, dtype=dtype
        )

    try:
        tile, seconds = plan_slow_tile(
            timed,
            target_epoch_seconds=target_epoch_seconds,
            min_tiles=PLANNED_MIN_EPOCH_TILES,
            candidates=PLANNED_TILE_CANDIDATES,
        )
    except RuntimeError as error:  # e.g. out of memory on a small MPS device
        log.warning("tile measurement failed (%s); using %d", error, FALLBACK_SLOW_TILE)
        return FALLBACK_SLOW_TILE, None
    log.info("training tile %d on %s (%.3f s per tile)", tile, device.kind, seconds)
    return tile, seconds


def plan_sizes(
    model: nn.Module, device: DeviceInfo, config: TrainingConfig, *, dtype: torch.dtype | None
) -> tuple[int, int, float | None]:
    """The training tile and batch for ``config`` on ``device``, planned where not given.

    Returns (tile size, batch size, seconds per tile measured while planning, or None).

    Raises:
        ValueError: the tile size is not a valid network input size.
    """
    seconds_per_tile: float | None = None
    batch_size = config.batch_size or default_batch_size(device, config.tile_size or DEFAULT_TILE)
    if config.tile_size is None:
        tile_size, seconds_per_tile = plan_tile_for(
            model,
            device,
            batch_size=batch_size,
            dtype=dtype,
            target_epoch_seconds=config.target_epoch_seconds,
        )
        if config.batch_size is None:
            batch_size = default_batch_size(device, tile_size)
    else:
        tile_size = config.tile_size
    if config.batch_size is None and is_slow_device(device):
        batch_size = small_tile_batch(tile_size, batch_size)
    if not is_valid_input_size(tile_size):
        raise ValueError(f"tile size {tile_size} is not a valid network input size")
    return tile_size, batch_size, seconds_per_tile
