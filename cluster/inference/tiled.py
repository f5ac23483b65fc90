"""Tiled segmentation: batched tiles, flip test-time augmentation, model ensembles.

A binary model (two outputs) yields the foreground probability map; a multi-class model
(one softmax over K outputs) yields K class maps, whose argmax is the label mask
(0 background, 1..K-1 the foreground classes) and whose "not background" probability
``1 - p(background)`` stands in for the foreground probability.

Memory grows with the tile batch, not with the image's model count: every output pixel
belongs to exactly one tile, whose probability (summed over models and flip passes on
the device) is written once into a single float32 map, and the network's activations
are let go layer by layer (:mod:`cluster.inference.lean`).

The run's device, batch and tile shape are planned by :mod:`cluster.inference.planning`;
its options are :mod:`cluster.inference.options`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from cluster.api import THRESHOLD, Segmentation, SegmentationRequest
from cluster.inference.lean import forward
from cluster.inference.options import Cancelled, RunOptions, SegmentOptions, TileOptions
from cluster.inference.planning import (
    default_batch_pixels,
    ensemble_classes,
    model_device,
    plan_tiles,
    tile_for_model,
)
from cluster.inference.uncertainty import uncertainty_score
from cluster.nn.devices import DeviceInfo, autocast, memory_format
from cluster.nn.tiles import (
    AxisTile,
    context_range,
    crop_reflected,
    normalise_tile,
    tile_grid,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

log = logging.getLogger(__name__)

FOREGROUND_CHANNEL = 1


def _maps(model: nn.Module, batch: torch.Tensor, multi: bool) -> torch.Tensor:
    """One pass: N x K x h x w class probabilities, or N x h x w foreground for binary."""
    probs = torch.softmax(forward(model, batch).float(), dim=1)
    return probs if multi else probs[:, FOREGROUND_CHANNEL]


def _foreground(
    model: nn.Module, batch: torch.Tensor, tta: bool, fmt: torch.memory_format, multi: bool
) -> torch.Tensor:
    """A batch's probability maps (float32, as :func:`_maps`), summed over flip passes."""
    probs = _maps(model, batch, multi)
    if tta:
        flipped = batch.flip(3).contiguous(memory_format=fmt)
        probs = probs + _maps(model, flipped, multi).flip(-1)
    return probs


def _pass_probabilities(
    models: Sequence[nn.Module],
    batch: torch.Tensor,
    tta: bool,
    fmt: torch.memory_format,
    multi: bool,
) -> Iterator[torch.Tensor]:
    """Each model's plain (and, with ``tta``, flipped-back) probability maps."""
    flipped = batch.flip(3).contiguous(memory_format=fmt) if tta else None
    for model in models:
        yield _maps(model, batch, multi)
        if flipped is not None:
            yield _maps(model, flipped, multi).flip(-1)


def _mean_and_disagreement(
    models: Sequence[nn.Module],
    batch: torch.Tensor,
    tta: bool,
    fmt: torch.memory_format,
    multi: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean pass probability and twice the passes' standard deviation (running sums).

    Welford's update keeps two tiles of state whatever the number of models, so an
    ensemble costs no more memory than one model.
    """
    mean = torch.zeros(0)
    spread = torch.zeros(0)
    for count, probs in enumerate(_pass_probabilities(models, batch, tta, fmt, multi), start=1):
        if count == 1:
            mean, spread = probs, torch.zeros_like(probs)
            continue
        delta = probs - mean
        mean = mean + delta / count
        spread += delta * (probs - mean)
    if multi:  # disagreement on "not background", whose spread is background's
        spread = spread[:, 0]
    return mean, 2.0 * torch.sqrt(spread.clamp_min(0.0) / count)


def _segment_maps(
    models: Sequence[nn.Module],
    image: np.ndarray,
    *,
    tile_size: int | None = None,
    batch_size: int = 2,
    tta: bool = True,
    device: DeviceInfo | None = None,
    dtype: torch.dtype | None = None,
    only_where: np.ndarray | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_batch_pixels: int | None = None,
    disagreement: np.ndarray | None = None,
) -> np.ndarray:
    """HxW foreground probability (binary models) or K x H x W class probabilities
    (multi-class models), float32; options as :func:`segment_probability`."""
    if not models:
        raise ValueError("segmentation needs at least one model")
    n_classes = ensemble_classes(models)
    multi = n_classes > 2
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be HxWx3, got {image.shape}")
    height, width = image.shape[:2]
    if height < 1 or width < 1:
        raise ValueError(f"empty image {image.shape}")
    if only_where is not None and only_where.shape != (height, width):
        raise ValueError(f"only_where {only_where.shape} does not match image {(height, width)}")
    if disagreement is not None:
        if disagreement.shape != (height, width) or disagreement.dtype != np.float32:
            raise ValueError(f"disagreement must be a {(height, width)} float32 array")
        disagreement.fill(0.0)
    device = device or model_device(models)
    max_batch_pixels = max_batch_pixels or default_batch_pixels(device, dtype)
    shape = plan_tiles(height, width, tile_size=tile_size, max_batch_pixels=max_batch_pixels)
    per_call = max(1, min(batch_size, max_batch_pixels // (shape[0] * shape[1])))
    tiles = tile_grid(height, width, shape)
    if only_where is not None:
        tiles = [(r, c) for r, c in tiles if only_where[_owned(r, c)].any()]
    log.debug(
        "segmenting %dx%d: %d tiles of %s, %d per call", height, width, len(tiles), shape, per_call
    )

    planes = (n_classes,) if multi else ()
    result = np.zeros((*planes, height, width), dtype=np.float32)
    scale = 1.0 / (len(models) * (2 if tta else 1))
    fmt = memory_format(device)
    with torch.inference_mode(), autocast(device, dtype):
        for start in range(0, len(tiles), per_call):
            if should_stop is not None and should_stop():
                raise Cancelled(f"stopped after {start} of {len(tiles)} tiles")
            group = tiles[start : start + per_call]
            inputs = np.stack(
                [
                    normalise_tile(
                        crop_reflected(image, r.input_start, c.input_start, *shape),
                        context_range(image, r.input_start, c.input_start, *shape),
                    )
                    for r, c in group
                ]
            )
            batch = torch.from_numpy(inputs).permute(0, 3, 1, 2)  # NHWC memory: channels_last
            batch = batch.to(device.device, memory_format=fmt)
            if disagreement is None:
                summed = _foreground(models[0], batch, tta, fmt, multi)
                for model in models[1:]:
                    summed += _foreground(model, batch, tta, fmt, multi)
                total = (summed * scale).cpu().numpy()
            else:
                mean, spread = _mean_and_disagreement(models, batch, tta, fmt, multi)
                total = mean.cpu().numpy()
                _place(disagreement, group, spread.cpu().numpy())
            _place(result, group, total)
            if progress is not None:
                progress(start + len(group), len(tiles))
    return result


def _owned(row: AxisTile, col: AxisTile) -> tuple[slice, slice]:
    return slice(row.own_start, row.own_stop), slice(col.own_start, col.own_stop)


def _place(
    target: np.ndarray, group: Sequence[tuple[AxisTile, AxisTile]], tiles: np.ndarray
) -> None:
    """Write each tile's owned output pixels into ``target`` (HxW, or K x H x W)."""
    for (r, c), values in zip(group, tiles, strict=True):
        rows, cols = _owned(r, c)
        target[..., rows, cols] = values[
            ...,
            r.own_start - r.output_start : r.own_stop - r.output_start,
            c.own_start - c.output_start : c.own_stop - c.output_start,
        ]


def segment_probability(
    models: Sequence[nn.Module], image: np.ndarray, **kwargs: Unpack[SegmentOptions]
) -> np.ndarray:
    """Foreground probability (HxW float32 in [0, 1]) of an HxWx3 image.

    Binary models: softmax channel 1 averaged over the models and (with ``tta``) a
    horizontally flipped pass. Multi-class models: 1 - p(background). Options:
    ``tile_size`` forces square tiles of that input side; by default the tile shape is
    chosen per image to waste little output while one forward call holds at most
    ``max_batch_pixels`` input pixels. Models must already sit on ``device`` in eval
    mode. Tiles whose pixels are all False in ``only_where`` are skipped (probability 0
    there). ``should_stop`` is asked between tile batches and raises
    :class:`Cancelled`; ``progress(done, total)`` counts tiles. An HxW float32
    ``disagreement`` array is filled with how much the averaged passes disagree (see
    :mod:`cluster.inference.uncertainty`), computed tile by tile.
    """
    maps = _segment_maps(models, image, **kwargs)
    return maps if maps.ndim == 2 else _not_background(maps)


def segment_classes(
    models: Sequence[nn.Module], image: np.ndarray, **kwargs: Unpack[SegmentOptions]
) -> np.ndarray:
    """K x H x W float32 class probabilities (binary: background, foreground); options as
    :func:`segment_probability`."""
    maps = _segment_maps(models, image, **kwargs)
    return maps if maps.ndim == 3 else np.stack([1.0 - maps, maps])


def _not_background(maps: np.ndarray) -> np.ndarray:
    return np.subtract(1.0, maps[0], dtype=np.float32)


def _mask_and_probability(maps: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(mask uint8, probability float16): 0/1 by ``threshold`` for binary; argmax for K."""
    if maps.ndim == 2:
        return (maps > threshold).astype(np.uint8), maps.astype(np.float16)
    return maps.argmax(axis=0).astype(np.uint8), _not_background(maps).astype(np.float16)


def segment(
    models: Sequence[nn.Module],
    image: np.ndarray,
    *,
    threshold: float = THRESHOLD,
    **kwargs: Unpack[SegmentOptions],
) -> tuple[np.ndarray, np.ndarray]:
    """(mask uint8, probability float16) for an image; options as segment_probability.

    The mask is 0/1 (``threshold`` on the foreground probability) for binary models and
    the most probable class index 0..K-1 for multi-class ones (``threshold`` unused).
    """
    maps = _segment_maps(models, image, **kwargs)
    return _mask_and_probability(maps, threshold)


def segment_with_uncertainty(
    models: Sequence[nn.Module],
    image: np.ndarray,
    *,
    threshold: float = THRESHOLD,
    **kwargs: Unpack[TileOptions],
) -> tuple[np.ndarray, np.ndarray, float]:
    """(mask, probability float16, uncertainty score); options as segment_probability.

    The score (:func:`cluster.inference.uncertainty.uncertainty_score`) comes from the same passes,
    so it costs one extra HxW float32 map and no extra forward passes.
    """
    spread = np.zeros(image.shape[:2], dtype=np.float32)
    maps = _segment_maps(models, image, disagreement=spread, **kwargs)
    score = uncertainty_score(maps, disagreement=spread)
    mask, probability = _mask_and_probability(maps, threshold)
    return mask, probability, score


def segment_request(
    request: SegmentationRequest,
    model: nn.Module,
    *,
    version: int,
    model_tile: int,
    tile_size: int | None = None,
    **kwargs: Unpack[RunOptions],
) -> Segmentation:
    """A queued request segmented by one model (trained on ``model_tile`` tiles), tagged
    with the model's version, the seconds it took and its uncertainty score.

    ``tile_size`` overrides the tile :func:`tile_for_model` picks; other options as
    :func:`segment_probability`. A binary mask is cut at :data:`THRESHOLD`, not at the
    model's own threshold: these masks are shown for correction (docs/method.md).
    """
    started = time.perf_counter()
    mask, probability, score = segment_with_uncertainty(
        [model],
        request.image,
        tile_size=tile_size or tile_for_model(model_tile),
        **kwargs,
    )
    seconds = time.perf_counter() - started
    return Segmentation(request.name, mask, probability, version, seconds, uncertainty=score)
