"""Can a model trained on small tiles segment with large ones? GroupNorm over a window.

A model trained on this CPU's 124-px tiles normalises every GroupNorm layer over the
whole of a 124-px tile. Run on a larger tile, the same layers average over far more
context, and the masks get worse (benchmarks/RESULTS.md). This experiment swaps each
GroupNorm, at inference only, for one whose mean and variance at each position come
from a window of the size that layer's feature map had on a training tile, centred on
the position (box sums by cumulative sums; optionally from every other pixel of the
widest layers), and scores the held-out photos of a dataset's fixed split at the given
tiles; a second variant freezes each layer's statistics at their average over training
tiles. It also times one enlarged photo.

    python benchmarks/windowed_norm.py MODEL --data peanut --tiles auto
        [--coarse 40] [--frozen] [--big 1275x1136]

``auto`` lets the planner choose tiles per image, as for a 572-px model.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from real_roots_data import dataset_split, held_out_score, load_pair
from torch import nn

from cluster.inference.tiled import segment_probability
from cluster.io.model_files import load_model_file
from cluster.nn.devices import pick_device
from cluster.nn.snapshot import model_from_snapshot
from cluster.nn.tiles import normalise_tile


def _window_sums(t: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Sums of ``t`` over a window of ``size`` along ``dim`` (2 or 3) centred on each
    position, clipped at the edges."""
    length = t.shape[dim]
    before, after = size // 2, size - size // 2 - 1
    padding = [0, 0, 0, 0]
    padding[(3 - dim) * 2], padding[(3 - dim) * 2 + 1] = before, after
    running = F.pad(F.pad(t, padding).cumsum(dim), [0, 0, 1, 0] if dim == 2 else [1, 0, 0, 0])
    return running.narrow(dim, size, length) - running.narrow(dim, 0, length)


class WindowedGroupNorm(nn.Module):
    """GroupNorm whose statistics come from a ``window`` around each position.

    ``coarse`` > 0: on layers whose window is at least ``2 * coarse`` wide, the
    statistics are taken from every other pixel, in 2-px blocks.
    """

    def __init__(self, norm: nn.GroupNorm, window: tuple[int, int], coarse: int) -> None:
        super().__init__()
        self.norm, self.window, self.coarse = norm, window, coarse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        kh, kw = min(self.window[0], h), min(self.window[1], w)
        if (kh, kw) == (h, w):
            return self.norm(x)
        groups = self.norm.num_groups
        per_group = c // groups
        step = 2 if self.coarse and min(kh, kw) >= 2 * self.coarse else 1
        padded_h, padded_w = -(-h // step) * step, -(-w // step) * step
        xp = F.pad(x, (0, padded_w - w, 0, padded_h - h)) if step > 1 else x
        rows, cols = padded_h // step, padded_w // step
        sampled = xp[:, :, ::step, ::step].float() if step > 1 else xp.float()
        first = sampled.reshape(n, groups, per_group, rows, cols).sum(2)
        second = sampled.square().reshape(n, groups, per_group, rows, cols).sum(2)
        count = torch.full((1, 1, rows, cols), float(per_group))  # one sample per block
        bh, bw = max(1, round(kh / step)), max(1, round(kw / step))

        def box(t: torch.Tensor) -> torch.Tensor:
            return _window_sums(_window_sums(t, bh, 2), bw, 3)

        total = box(count)
        mean = box(first) / total
        variance = (box(second) / total - mean * mean).clamp_min(0)
        scale = torch.rsqrt(variance + self.norm.eps).unsqueeze(2)
        weight = self.norm.weight.view(1, groups, per_group, 1, 1)
        bias = self.norm.bias.view(1, groups, per_group, 1, 1)
        a = scale * weight
        b = bias - mean.unsqueeze(2) * a
        shape = (n, groups, per_group, rows, 1, cols, 1)
        blocks = xp.view(n, groups, per_group, rows, step, cols, step)
        out = torch.addcmul(b.view(shape).to(x.dtype), blocks, a.view(shape).to(x.dtype))
        out = out.view(n, c, padded_h, padded_w)
        return out[:, :, :h, :w] if step > 1 else out


class FrozenGroupNorm(nn.Module):
    """GroupNorm with fixed per-group statistics (their average over training tiles)."""

    def __init__(self, norm: nn.GroupNorm, mean: torch.Tensor, variance: torch.Tensor) -> None:
        super().__init__()
        repeat = norm.num_channels // norm.num_groups
        scale = norm.weight.detach() / torch.sqrt(variance.repeat_interleave(repeat) + norm.eps)
        shift = norm.bias.detach() - mean.repeat_interleave(repeat) * scale
        self.register_buffer("scale", scale.view(1, -1, 1, 1))
        self.register_buffer("shift", shift.view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.dtype) + self.shift.to(x.dtype)


def _norm_inputs(model: nn.Module, batch: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each GroupNorm layer's input when ``model`` runs on ``batch``."""
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], None]:
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...], __: torch.Tensor) -> None:
            seen[name] = inputs[0].detach().float()

        return hook

    handles = [
        module.register_forward_hook(keep(name))
        for name, module in model.named_modules()
        if isinstance(module, nn.GroupNorm)
    ]
    with torch.no_grad():
        model(batch)
    for handle in handles:
        handle.remove()
    return seen


def _replaced(model: nn.Module, make: Callable[[str, nn.GroupNorm], nn.Module]) -> nn.Module:
    """A copy of ``model`` with each GroupNorm (by name) replaced by ``make``'s module."""
    copied = copy.deepcopy(model)
    for parent_name, parent in list(copied.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.GroupNorm):
                full = f"{parent_name}.{name}" if parent_name else name
                setattr(parent, name, make(full, child))
    return copied.eval()


def windowed(model: nn.Module, training_tile: int, coarse: int) -> nn.Module:
    sizes = {
        name: (int(t.shape[2]), int(t.shape[3]))
        for name, t in _norm_inputs(model, torch.zeros(1, 3, training_tile, training_tile)).items()
    }
    return _replaced(model, lambda name, norm: WindowedGroupNorm(norm, sizes[name], coarse))


def frozen(model: nn.Module, training_tile: int, photos: list[np.ndarray]) -> nn.Module:
    """Statistics averaged over training-size tiles cut from ``photos`` on a grid."""
    tiles = [
        normalise_tile(photo[top : top + training_tile, left : left + training_tile])
        for photo in photos
        for top in range(0, photo.shape[0] - training_tile + 1, training_tile)
        for left in range(0, photo.shape[1] - training_tile + 1, training_tile)
    ]
    batch = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2).float()
    inputs = _norm_inputs(model, batch)

    def make(name: str, norm: nn.GroupNorm) -> nn.Module:
        grouped = inputs[name].reshape(inputs[name].shape[0], norm.num_groups, -1)
        mean = grouped.mean(-1).mean(0)
        variance = grouped.var(-1, unbiased=False).mean(0)
        return FrozenGroupNorm(norm, mean, variance)

    return _replaced(model, make)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a model file trained on small tiles")
    parser.add_argument("--data", default="peanut", choices=("peanut", "switchgrass"))
    parser.add_argument("--eval-images", type=int, default=12)
    parser.add_argument("--tiles", default="auto", help="comma-separated sides or auto")
    parser.add_argument("--coarse", type=int, default=0, help="see WindowedGroupNorm")
    parser.add_argument("--frozen", action="store_true", help="also score frozen statistics")
    parser.add_argument("--big", default="", help="also time one photo enlarged to WxH")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device, dtype = pick_device("cpu"), torch.bfloat16
    snapshot = load_model_file(args.model)
    model = model_from_snapshot(snapshot).eval()
    split = dataset_split(args.data)
    step = max(1, len(split.held_out) // args.eval_images)
    pairs = [load_pair(path) for path in split.held_out[::step][: args.eval_images]]
    variants = {"GroupNorm as trained": model}
    variants["windowed"] = windowed(model, snapshot.tile_size, args.coarse)
    if args.frozen:
        photos = [load_pair(path)[0] for path in split.annotate[:6]]
        variants["frozen statistics"] = frozen(model, snapshot.tile_size, photos)
    print(f"# {vars(args)}; training tile {snapshot.tile_size}", flush=True)
    tiles = [None if text == "auto" else int(text) for text in args.tiles.split(",")]
    for label, variant in variants.items():
        for tile in tiles:
            started = time.process_time()
            score = held_out_score(variant, pairs, tile_size=tile, device=device, dtype=dtype)
            counts = score.counts
            print(
                f"{label:22s} tile {tile or 'auto':>4}: F1 {counts.f1:.3f}"
                f" (P {counts.precision:.3f} R {counts.recall:.3f})"
                f" length R² {score.length_r2():.3f}"
                f"  CPU {time.process_time() - started:.1f} s",
                flush=True,
            )
    if args.big:
        width, height = (int(side) for side in args.big.split("x"))
        photo = np.asarray(Image.fromarray(pairs[0][0]).resize((width, height)))
        for label, variant, tile in (
            ("GroupNorm, tiles per image", model, None),
            (f"GroupNorm, {snapshot.tile_size}-px tiles", model, snapshot.tile_size),
            ("windowed, tiles per image", variants["windowed"], None),
        ):
            options = {"tile_size": tile, "tta": False, "device": device, "dtype": dtype}
            segment_probability([variant], photo, **options)  # warm-up
            started = time.process_time()
            segment_probability([variant], photo, **options)
            print(f"{args.big} photo, {label}: {time.process_time() - started:.1f} CPU s")


if __name__ == "__main__":
    main()
