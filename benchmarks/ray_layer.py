"""Latency of the Ray layer: annotation-to-sampler, accept-to-next-mask, Ray overhead.

Starts the embedded Ray head of a temporary workspace (2 CPUs), makes one project's
trainer and segmenter actors through :class:`cluster.backends.ray_backend.RayBackend`, and times:

1. annotation-to-sampler: from the ``add_annotation`` call until ``status().n_train``
   counts it, while the trainer trains (256x256 and 1024x1024 annotations);
2. accept-to-next-mask: the app asks for image i+1 at priority 1, the user works until
   it is made (and a little longer), then ``segmentation(next)`` is timed: a fetch when
   pre-segmented, a request and a wait when not (256x256 and 512x512, flip TTA);
3. Ray overhead: the not-pre-segmented case and a ``status()`` round trip through
   RayBackend beside :class:`cluster.backends.local.LocalBackend` and a direct
   :func:`cluster.inference.tiled.segment` call in this process, taken in turn on the same images;
   and the sampler's ``AnnotationStore.set`` called directly, beside case 1.

The driver's torch uses as many threads as the segmenter actor is given (Ray sets one
for its 0.5 CPU), so the ratios show the layer, not a thread count. Every figure is a
median over ``--repeats``. Prints a markdown table.

    python benchmarks/ray_layer.py [--repeats 5] [--cpus 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    AnnotatedImage,
    Backend,
    SegmentationRequest,
    Split,
    TrainerState,
    TrainingConfig,
)
from cluster.backends.local import LocalBackend
from cluster.backends.ray_backend import RayBackend
from cluster.backends.segmenter_actor import MODEL_POLL_S
from cluster.head.connect import connect, disconnect
from cluster.head.embedded import stop
from cluster.head.launch import HeadOptions
from cluster.inference.tiled import segment
from cluster.nn.devices import pick_device, prepare_model, resolve_precision
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import model_from_snapshot, snapshot_from_model
from cluster.simulate.synthetic import generate_root_image
from cluster.training.annotation_store import AnnotationStore

log = logging.getLogger(__name__)

STORE_BYTES = 300 * 1024**2
PROJECT = "bench-ray-layer"
TRAIN_TILE = 252  # small, so training steps are short and training starts at once
TRAIN_BATCH = 2
ANNOTATION_SIDES = (256, 1024)
SEGMENT_SIDES = (256, 512)
WAIT_S = 120.0  # the most any one step is allowed to take
POLL_S = 0.001
WORK_MARGIN_S = 0.2  # the user goes on working this long after the next mask is ready
STATUS_CALLS = 20  # status() calls per repeat
FETCH_TARGET_MS = 100.0
MS = 1000.0


@dataclass(frozen=True)
class Row:
    """One line of the table: a case, its median, and what it is compared with."""

    case: str
    ms: float
    note: str = ""


def annotation(name: str, side: int, seed: int, split: Split) -> AnnotatedImage:
    """A synthetic image labelled everywhere from its exact root mask."""
    image, mask = generate_root_image(seed=seed, height=side, width=side, root_probability=1.0)
    labels = np.where(mask > 0, FOREGROUND, BACKGROUND).astype(np.uint8)
    return AnnotatedImage(name, image, labels, split)


def picture(side: int, seed: int) -> np.ndarray:
    return generate_root_image(seed=seed, height=side, width=side)[0]


async def timed(step: Callable[[], Awaitable[object]]) -> float:
    """Milliseconds one awaited step takes."""
    started = time.perf_counter()
    await step()
    return (time.perf_counter() - started) * MS


async def wait_for_state(backend: Backend, state: TrainerState) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        status = await backend.status()
        if status.state == state:
            return
        if status.state == TrainerState.FAILED:
            raise RuntimeError(f"training failed: {status.last_error}")
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the trainer never reached {state.value}")


async def annotation_to_sampler(backend: Backend, repeats: int) -> dict[int, tuple[float, float]]:
    """Median ms (to n_train counting it, of the add call) per side, while training runs."""
    await backend.add_annotation(annotation("seed-train", 256, 1, "train"))
    await backend.add_annotation(annotation("seed-val", 256, 2, "val"))
    config = TrainingConfig(tile_size=TRAIN_TILE, batch_size=TRAIN_BATCH, seed=0)
    await backend.start_training(config)
    await wait_for_state(backend, TrainerState.TRAINING)
    figures = {}
    seed = 100
    for side in ANNOTATION_SIDES:
        calls, seen = [], []
        for _ in range(repeats):
            seed += 1
            item = annotation(f"a{seed}", side, seed, "train")
            expected = (await backend.status()).n_train + 1
            started = time.perf_counter()
            await backend.add_annotation(item)
            calls.append((time.perf_counter() - started) * MS)
            deadline = time.monotonic() + WAIT_S
            while (await backend.status()).n_train < expected:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"annotation {item.name} never reached the sampler")
                await asyncio.sleep(POLL_S)
            seen.append((time.perf_counter() - started) * MS)
        if (await backend.status()).state != TrainerState.TRAINING:
            raise RuntimeError("training stopped while annotations were being added")
        figures[side] = (statistics.median(seen), statistics.median(calls))
    await backend.stop_training()
    await asyncio.sleep(MODEL_POLL_S + WORK_MARGIN_S)  # the segmenter takes the final model
    return figures


async def cold_mask(backend: Backend, name: str, image: np.ndarray) -> float:
    """Request at top priority and wait for the mask (ms)."""

    async def step() -> None:
        await backend.request_segmentation(SegmentationRequest(name, image, 0))
        if await backend.segmentation(name, timeout=WAIT_S) is None:
            raise TimeoutError(f"no mask for {name}")

    return await timed(step)


async def warm_mask(backend: Backend, name: str, image: np.ndarray) -> float:
    """Pre-segment at priority 1, let the user work until it is made, then time the fetch."""
    await backend.request_segmentation(SegmentationRequest(name, image, 1))
    if await backend.segmentation(name, timeout=WAIT_S) is None:  # the user, working
        raise TimeoutError(f"no mask for {name}")
    await asyncio.sleep(WORK_MARGIN_S)

    async def step() -> None:
        if await backend.segmentation(name, timeout=WAIT_S) is None:
            raise TimeoutError(f"no mask for {name}")

    return await timed(step)


def direct_mask(model: torch.nn.Module, image: np.ndarray) -> float:
    """cluster.inference.tiled.segment in this process, model already on the device (ms), with the
    tile the backends use for a model trained on TRAIN_TILE (so the ratio is the same work)."""
    device = pick_device()
    dtype = resolve_precision(device, "auto")
    started = time.perf_counter()
    segment([model], image, tta=True, device=device, dtype=dtype, tile_size=TRAIN_TILE)
    return (time.perf_counter() - started) * MS


@dataclass
class Figures:
    """Per image side: lists of ms per way of segmenting."""

    runs: dict[str, dict[int, list[float]]]

    def median(self, way: str, side: int) -> float:
        return statistics.median(self.runs[way][side])


async def segmentations(
    ray_backend: Backend, local: Backend, model: torch.nn.Module, repeats: int
) -> Figures:
    """The three ways in turn on the same images (so load drifts hit all alike)."""
    ways = ("ray", "local", "direct", "ray-fetch", "local-fetch")
    runs: dict[str, dict[int, list[float]]] = {w: {s: [] for s in SEGMENT_SIDES} for w in ways}
    warm_up = picture(64, 0)
    await cold_mask(ray_backend, "warm-up", warm_up)  # model on the device, first calls
    await cold_mask(local, "warm-up", warm_up)
    direct_mask(model, warm_up)
    for side in SEGMENT_SIDES:
        for i in range(repeats):
            image = picture(side, 1000 + side + i)
            runs["ray"][side].append(await cold_mask(ray_backend, f"c{side}-{i}", image))
            runs["local"][side].append(await cold_mask(local, f"c{side}-{i}", image))
            runs["direct"][side].append(direct_mask(model, image))
            runs["ray-fetch"][side].append(await warm_mask(ray_backend, f"w{side}-{i}", image))
            runs["local-fetch"][side].append(await warm_mask(local, f"w{side}-{i}", image))
    return Figures(runs)


def sampler_direct(repeats: int) -> dict[int, float]:
    """Median ms of AnnotationStore.set in this process, nothing else running."""
    figures = {}
    for side in ANNOTATION_SIDES:
        store = AnnotationStore(TRAIN_TILE)
        runs = []
        for i in range(repeats):
            item = annotation(f"d{i}", side, 500 + i, "train")
            started = time.perf_counter()
            store.set(item)
            runs.append((time.perf_counter() - started) * MS)
        figures[side] = statistics.median(runs)
    return figures


async def status_round_trip(backend: Backend, repeats: int) -> float:
    return statistics.median([await timed(backend.status) for _ in range(repeats)])


def actor_threads() -> int:
    """Torch threads in a task shaped like the segmenter (0.5 CPU)."""
    import ray

    @ray.remote(num_cpus=0.5)
    def threads() -> int:
        import torch as remote_torch

        return remote_torch.get_num_threads()

    return int(ray.get(threads.remote(), timeout=WAIT_S))


def figure(value: float) -> str:
    """Three significant digits, never in exponent form."""
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def versus(ms: float, base: float, name: str) -> str:
    return f"{figure(ms / base)}x {name}, {ms - base:+.0f} ms"


async def run(workspace: Path, args: argparse.Namespace) -> tuple[list[Row], int]:
    torch.manual_seed(0)
    snapshot = snapshot_from_model(UNetGNRes(), version=1)
    connect(
        workspace, head_options=HeadOptions(num_cpus=args.cpus, object_store_memory=STORE_BYTES)
    )
    threads = actor_threads()
    torch.set_num_threads(threads)
    repeats = args.repeats
    rows: list[Row] = []
    backend = RayBackend(PROJECT, start_model=snapshot, tile_size=TRAIN_TILE, tta=True)
    local = LocalBackend(start_model=snapshot, tta=True)
    model = prepare_model(model_from_snapshot(snapshot), pick_device()).eval()
    try:
        sampler = await annotation_to_sampler(backend, repeats)
        figures = await segmentations(backend, local, model, repeats)
        ray_status = await status_round_trip(backend, repeats * STATUS_CALLS)
        local_status = await status_round_trip(local, repeats * STATUS_CALLS)
    finally:
        await local.close()
        await backend.end_actors()
        disconnect()
    direct_set = sampler_direct(repeats)
    for side in ANNOTATION_SIDES:
        seen, call = sampler[side]
        rows.append(
            Row(
                f"annotation-to-sampler {side}², Ray, while training",
                seen,
                versus(seen, direct_set[side], "direct AnnotationStore.set"),
            )
        )
        rows.append(Row(f"  of which the add_annotation call {side}²", call))
        rows.append(Row(f"AnnotationStore.set {side}² direct, idle", direct_set[side]))
    for side in SEGMENT_SIDES:
        fetch = figures.median("ray-fetch", side)
        cold = figures.median("ray", side)
        ok = "meets" if fetch <= FETCH_TARGET_MS else "MISSES"
        rows.append(
            Row(
                f"accept-to-next-mask {side}², pre-segmented, Ray",
                fetch,
                f"{ok} the ≤ {FETCH_TARGET_MS:.0f} ms target",
            )
        )
        rows.append(
            Row(
                f"accept-to-next-mask {side}², pre-segmented, LocalBackend",
                figures.median("local-fetch", side),
            )
        )
        rows.append(
            Row(
                f"accept-to-next-mask {side}², not pre-segmented, Ray",
                cold,
                f"{cold / fetch:.0f}x the pre-segmented fetch",
            )
        )
    for side in SEGMENT_SIDES:
        direct = figures.median("direct", side)
        for way, label in (("ray", "RayBackend"), ("local", "LocalBackend")):
            ms = figures.median(way, side)
            rows.append(
                Row(
                    f"segmentation {side}², {label} (request + wait)",
                    ms,
                    versus(ms, direct, "direct"),
                )
            )
        rows.append(Row(f"segmentation {side}², direct cluster.inference.tiled.segment", direct))
    rows.append(
        Row(
            "status() round trip, RayBackend", ray_status, versus(ray_status, local_status, "local")
        )
    )
    rows.append(Row("status() round trip, LocalBackend", local_status))
    return rows, threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rptui-bench-ray-") as folder:
        workspace = Path(folder)
        try:
            rows, threads = asyncio.run(run(workspace, args))
        finally:
            stop(workspace)
    load_after = os.getloadavg()
    print(
        f"Embedded Ray head, {args.cpus} CPUs; flip TTA; segmenter and driver torch threads:"
        f" {threads}; training tile {TRAIN_TILE}, batch {TRAIN_BATCH};"
        f" medians of {args.repeats} (status: {args.repeats * STATUS_CALLS});"
        f" {time.monotonic() - started:.0f} s in all"
    )
    before = " ".join(f"{x:.2f}" for x in load_before)
    after = " ".join(f"{x:.2f}" for x in load_after)
    print(f"load average (1/5/15 min) before: {before}, after: {after}")
    print()
    print("| case | median ms | compared |")
    print("| --- | --- | --- |")
    for row in rows:
        print(f"| {row.case} | {figure(row.ms)} | {row.note} |")


if __name__ == "__main__":
    main()
