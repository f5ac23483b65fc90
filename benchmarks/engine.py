"""Engine throughput: training tiles/s and segmentation megapixels/s beside the bare network.

Each figure is measured next to the raw forward (and backward) passes of the bare U-Net
on the same inputs in the same process, so the engine's overhead is a ratio. Every case
runs in a fresh process, whose peak RSS is reported.

    python benchmarks/engine.py [--repeats 3] [--precision auto] [--threads N]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from cluster.api import BACKGROUND, FOREGROUND
from cluster.inference.planning import default_batch_pixels, plan_tiles
from cluster.inference.tiled import segment_probability
from cluster.nn.devices import (
    DeviceInfo,
    autocast,
    memory_format,
    pick_device,
    prepare_model,
    resolve_precision,
    set_cpu_threads,
)
from cluster.nn.loss import masked_dice_ce_loss
from cluster.nn.model import UNetGNRes
from cluster.nn.tiles import tile_grid, used_fraction
from cluster.training.sampler import TileSampler

log = logging.getLogger(__name__)

IMAGES = ((720, 510), (2273, 2550))
# RootPainter 0.3.1 on this CPU (docs/method.md): seconds for 1 model with flip TTA
ROOTPAINTER_SECONDS = {(720, 510): 10.7, (2273, 2550): 60.0}
TARGET_SPEEDUP = {(720, 510): 5.0, (2273, 2550): 3.0}
MIB = 1024 * 1024


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    case: str
    figure: str
    bare: str
    ratio: str
    note: str
    peak_mib: float


def _sync(device: DeviceInfo) -> None:
    if device.kind == "cuda":
        torch.cuda.synchronize(device.device)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _seconds(fn: Callable[[], object], device: DeviceInfo) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _paired(
    engine: Callable[[], object],
    bare: Callable[[], object],
    device: DeviceInfo,
    repeats: int,
    warm_up: Callable[[], object],
) -> tuple[float, float]:
    """Median seconds of engine and bare runs, alternated so both see the same machine load."""
    warm_up()
    engine_s, bare_s = [], []
    for _ in range(repeats):
        engine_s.append(_seconds(engine, device))
        bare_s.append(_seconds(bare, device))
    return statistics.median(engine_s), statistics.median(bare_s)


def _setup(threads: int | None, precision: str) -> tuple[DeviceInfo, torch.dtype | None]:
    device = pick_device()
    if device.kind == "cpu":
        set_cpu_threads(threads)
    return device, resolve_precision(device, precision)  # type: ignore[arg-type]


def _dtype_name(dtype: torch.dtype | None) -> str:
    return "fp32" if dtype is None else str(dtype).removeprefix("torch.")


def training_case(tile: int, batch: int, repeats: int, threads: int | None, precision: str) -> Row:
    """Sampling + augmentation + optimiser step, against the bare forward/backward."""
    device, dtype = _setup(threads, precision)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (720, 510, 3), dtype=np.uint8)
    labels = np.zeros((720, 510), dtype=np.uint8)
    labels[::9, :] = BACKGROUND
    labels[:, ::23] = FOREGROUND
    sampler = TileSampler(tile)
    sampler.set("bench", image, labels)
    model = prepare_model(UNetGNRes(), device).train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.99, nesterov=True)
    fmt = memory_format(device)

    def step(inputs: np.ndarray, targets: np.ndarray, *, bare: bool) -> None:
        x = torch.from_numpy(inputs).to(device.device).contiguous(memory_format=fmt)
        with autocast(device, dtype):
            out = model(x)
        if bare:
            out.float().mean().backward()
            model.zero_grad(set_to_none=True)
            return
        y = torch.from_numpy(targets).to(device.device, torch.long)
        loss = masked_dice_ce_loss(out, y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    fixed = sampler.sample_batch(rng, batch)
    step(*fixed, bare=False)  # warm-up
    data_s, total_s, bare_s = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        inputs, targets = sampler.sample_batch(rng, batch)
        data_s.append(time.perf_counter() - start)
        step(inputs, targets, bare=False)
        _sync(device)
        total_s.append(time.perf_counter() - start)
        bare_s.append(_seconds(lambda: step(*fixed, bare=True), device))
    total = statistics.median(total_s)
    bare = statistics.median(bare_s)
    data_share = statistics.median(d / t for d, t in zip(data_s, total_s, strict=True))
    return Row(
        case=f"train {tile}² batch {batch} {_dtype_name(dtype)}",
        figure=f"{batch / total:.2f} tiles/s",
        bare=f"{batch / bare:.2f} tiles/s",
        ratio=f"{total / bare:.2f}",
        note=f"data pipeline {100 * data_share:.0f} % of step (target < 20 %)",
        peak_mib=_peak_mib(),
    )


def inference_case(
    size: tuple[int, int],
    n_models: int,
    tta: bool,
    repeats: int,
    threads: int | None,
    precision: str,
) -> Row:
    """segment_probability against the same forward passes of the bare network."""
    device, dtype = _setup(threads, precision)
    torch.manual_seed(0)
    models = [prepare_model(UNetGNRes(), device).eval() for _ in range(n_models)]
    image = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    pixels = default_batch_pixels(device, dtype)
    shape = plan_tiles(*size, tile_size=None, max_batch_pixels=pixels)
    tiles = len(tile_grid(*size, shape))
    per_call = max(1, min(2, pixels // (shape[0] * shape[1])))
    batch = torch.rand(per_call, 3, *shape, device=device.device)
    batch = batch.contiguous(memory_format=memory_format(device))
    sizes = [min(per_call, tiles - start) for start in range(0, tiles, per_call)]
    passes = n_models * (2 if tta else 1)

    def one_forward() -> None:
        with torch.inference_mode(), autocast(device, dtype):
            for model in models:
                model(batch)

    def bare() -> None:
        with torch.inference_mode(), autocast(device, dtype):
            for count in sizes:
                for _ in range(passes):
                    models[0](batch[:count])

    seconds, bare_s = _paired(
        lambda: segment_probability(models, image, tta=tta, device=device, dtype=dtype),
        bare,
        device,
        repeats,
        warm_up=one_forward,
    )
    megapixels = size[0] * size[1] / 1e6
    used = 100 * used_fraction(*size, shape)
    note = f"{tiles} tile(s) of {shape[0]}x{shape[1]}, {used:.0f} % of output used"
    if n_models == 1 and tta and size in ROOTPAINTER_SECONDS:
        speedup = ROOTPAINTER_SECONDS[size] / seconds
        note += f"; {seconds:.2f} s = {speedup:.1f}x RootPainter (target {TARGET_SPEEDUP[size]}x)"
    return Row(
        case=f"segment {size[0]}x{size[1]}, {n_models} model(s), TTA {'on' if tta else 'off'}, "
        f"{_dtype_name(dtype)}",
        figure=f"{megapixels / seconds:.3f} MP/s",
        bare=f"{megapixels / bare_s:.3f} MP/s",
        ratio=f"{seconds / bare_s:.2f}",
        note=note,
        peak_mib=_peak_mib(),
    )


def _in_fresh_process(fn: Callable[..., Row], *args: object) -> Row:
    """Run one case in a new process so its peak RSS is its own."""
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (median)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--train-tile", type=int, default=252, help="training tile side")
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument("--big-repeats", type=int, default=1, help="timed runs, 2273x2550")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    common = (args.threads, args.precision)
    cases: list[tuple[Callable[..., Row], tuple[object, ...]]] = [
        (training_case, (args.train_tile, args.train_batch, args.repeats, *common)),
        (training_case, (572, 1, max(1, args.repeats - 1), *common)),
    ]
    for size in IMAGES:
        repeats = args.repeats if size == IMAGES[0] else args.big_repeats
        for n_models, tta in ((1, False), (1, True), (3, True)):
            cases.append((inference_case, (size, n_models, tta, repeats, *common)))
    cases.append((inference_case, (IMAGES[0], 1, True, args.repeats, args.threads, "fp32")))
    rows = []
    for fn, case_args in cases:
        row = _in_fresh_process(fn, *case_args)
        log.info("%s: %s", row.case, row.figure)
        rows.append(row)
    device = pick_device()
    threads = args.threads or torch.get_num_threads()
    lines = [
        f"Device: {device.describe()}, {threads} threads. Ratio = engine time / bare network time.",
        "",
        "| case | engine | bare network | ratio | peak RSS | note |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.case} | {r.figure} | {r.bare} | {r.ratio} | {r.peak_mib:.0f} MiB | {r.note} |"
        for r in rows
    ]
    print("\n".join(lines))  # the table is this script's output, not a log


if __name__ == "__main__":
    main()
