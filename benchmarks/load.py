"""Memory and latency under load: annotations by the thousand, a 10,000-request queue.

1. Trainer RSS: a real :class:`cluster.backends.trainer_actor.TrainerActor` on an embedded Ray
   (through :class:`cluster.backends.ray_backend.RayBackend`), training while annotations
   arrive; the actor's own ``/proc/self/status`` (VmRSS and its anonymous, file and shared
   parts) and the store's resident bytes after each batch and after the next epoch. The store's
   memory bound is set in the actor to ``--bound-mib`` (its default is 512 MiB).
2. The same annotations through an :class:`cluster.training.annotation_store.AnnotationStore` in
   this process, and the time to draw a tile with every annotation in memory against
   every annotation spilled to disk (full ``sample()``, and the cut alone without
   augmentation).
3. 10,000 segmentation requests of ``--side``² images with distinct names into a
   :class:`cluster.backends.segment_queue.SegmentationQueue`: RSS before and after.
4. The app's next/previous keys (``n``/``p``) to the first frame, offline, on a project
   with few annotated images against one with many (Pilot, as benchmarks/app_latency.py).

Images: ``--distinct`` generated root images (cluster.simulate.synthetic) labelled as a careful
first user would (cluster.simulate.clear_examples.clear_example_labels), varied by
rotations and rolls to make the rest (each a different annotation). Splits follow docs/method.md.

    python benchmarks/load.py [--counts 10,100,1000] [--nav-counts 10,1000] [--side 256]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from load_data import Memory, annotations, make_bases, memory_table, own_memory
from load_navigation import annotate_project, navigation, navigation_workspace

from cluster.api import SegmentationRequest, TrainingConfig
from cluster.backends.ray_backend import RayBackend
from cluster.backends.segment_queue import SegmentationQueue
from cluster.head.connect import connect, disconnect
from cluster.head.embedded import stop
from cluster.head.launch import HeadOptions
from cluster.simulate.synthetic import generate_root_image
from cluster.training import sampler as sampler_module
from cluster.training.annotation_store import AnnotationStore
from cluster.training.spill import MIB

log = logging.getLogger(__name__)

PROJECT = "bench-load"
STORE_BYTES = 300 * MIB
TRAIN_TILE = 252
TRAIN_BATCH = 2
EPOCH_TILES = 8  # short epochs: the figure is memory, not learning
REF_BATCH = 50  # annotations sent between drops of the driver's object-store refs
WAIT_S = 900.0
POLL_S = 0.5


def _actor_probe(actor: Any) -> tuple[str, int, int]:
    """Runs inside the trainer actor: its memory, and its store's resident/spilled bytes."""
    engine = actor._engine
    store = engine._annotations if engine is not None else None
    resident = store.resident_bytes if store is not None else 0
    spilled = store.pool.spilled_bytes if store is not None else 0
    return Path("/proc/self/status").read_text(), resident, spilled


def _actor_set_bound(actor: Any, bound: int) -> bool:
    """Runs inside the trainer actor: the store's memory bound (False before the engine)."""
    if actor._engine is None:
        return False
    actor._engine._annotations.memory_bound = bound
    return True


# ----- 1. the trainer actor ------------------------------------------------------------------


async def trainer_memory(
    bases: list[tuple[np.ndarray, np.ndarray]], counts: list[int], bound: int
) -> list[tuple[str, Memory, int, int]]:
    """(when, actor memory, resident bytes, spilled bytes) as annotations grow."""
    import ray

    backend = RayBackend(PROJECT, tile_size=TRAIN_TILE)
    rows = []
    try:

        async def probe(label: str) -> None:
            status, resident, spilled = await asyncio.to_thread(
                ray.get, backend.trainer.__ray_call__.remote(_actor_probe), timeout=WAIT_S
            )
            rows.append((label, Memory.parse(status), resident, spilled))

        await probe("actor started, no annotations")
        config = TrainingConfig(
            tile_size=TRAIN_TILE,
            batch_size=TRAIN_BATCH,
            epoch_tiles=EPOCH_TILES,
            patience=1_000_000,
            seed=0,
        )
        await backend.start_training(config)
        deadline = time.monotonic() + WAIT_S
        while not ray.get(backend.trainer.__ray_call__.remote(_actor_set_bound, bound)):
            if time.monotonic() > deadline:
                raise TimeoutError("the trainer never built its engine")
            await asyncio.sleep(POLL_S)
        items = annotations(bases, max(counts))
        sent = 0
        for count in counts:
            while sent < count:
                await backend.add_annotation(next(items))
                sent += 1
                if sent % REF_BATCH == 0:
                    await backend.close()  # drop the driver's refs: the object store stays small
            await backend.close()
            await probe(f"{count} annotations")
            epochs = len(await backend.epoch_log())
            while len(await backend.epoch_log()) < epochs + 1:
                if time.monotonic() > deadline:
                    raise TimeoutError("no epoch ended")
                await asyncio.sleep(POLL_S)
            await probe(f"{count} annotations, after an epoch")
    finally:
        await backend.end_actors()
    return rows


# ----- 2. the store in this process ----------------------------------------------------------


def store_memory(
    bases: list[tuple[np.ndarray, np.ndarray]], counts: list[int], bound: int
) -> list[tuple[str, Memory, int, int]]:
    """(when, this process's memory, resident bytes, spilled bytes) as annotations grow."""
    store = AnnotationStore(TRAIN_TILE, memory_bound=bound)
    rows = [("store empty", own_memory(), 0, 0)]
    items = annotations(bases, max(counts))
    sent = 0
    try:
        for count in counts:
            while sent < count:
                store.set(next(items))
                sent += 1
            rows.append(
                (
                    f"{count} annotations",
                    own_memory(),
                    store.resident_bytes,
                    store.pool.spilled_bytes,
                )
            )
    finally:
        store.close()
    return rows


def tile_costs(
    bases: list[tuple[np.ndarray, np.ndarray]], count: int, tiles: int
) -> dict[str, float]:
    """Median ms per tile: sample() and the cut alone, all in memory vs all spilled."""
    figures = {}
    for where, bound in (("in memory", 1 << 40), ("spilled", 0)):
        store = AnnotationStore(TRAIN_TILE, memory_bound=bound)
        for item in annotations(bases, count):
            store.set(item)
        for what, patched in (("sample()", False), ("cut only", True)):
            original = sampler_module.augment
            if patched:
                sampler_module.augment = lambda i, lab, rng: (i / 255.0, lab)
            try:
                rng = np.random.default_rng(0)
                runs = []
                for _ in range(tiles):
                    started = time.perf_counter()
                    store.sampler.sample(rng)
                    runs.append((time.perf_counter() - started) * 1000)
            finally:
                sampler_module.augment = original
            figures[f"{what}, {where}"] = statistics.median(runs)
        store.close()
    return figures


# ----- 3. the segmentation queue -------------------------------------------------------------


def queue_memory(requests: int, side: int) -> tuple[Memory, Memory, int, int, float]:
    """(before, after, requests kept, bytes kept, µs per put) for distinct-name requests."""
    queue = SegmentationQueue()
    image = generate_root_image(seed=0, height=side, width=side)[0]
    before = own_memory()
    started = time.perf_counter()
    for index in range(requests):
        queue.put(SegmentationRequest(f"q{index:05d}", image.copy(), priority=index % 3))
    per_put = (time.perf_counter() - started) / requests * 1e6
    after = own_memory()
    return before, after, len(queue), queue.pending_bytes, per_put


# ----- report and command line ---------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,100,1000", help="annotation counts, ascending")
    parser.add_argument("--side", type=int, default=256, help="image side, pixels")
    parser.add_argument("--distinct", type=int, default=50, help="generated images to vary")
    parser.add_argument("--bound-mib", type=float, default=64, help="the stores' memory bound")
    parser.add_argument("--queued", type=int, default=10_000, help="segmentation requests")
    parser.add_argument("--tiles", type=int, default=30, help="tiles timed per case")
    parser.add_argument("--nav-counts", default="10,1000", help="annotated images per project")
    parser.add_argument("--presses", type=int, default=30, help="navigation presses per project")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the embedded Ray")
    parser.add_argument("--no-ray", action="store_true", help="skip the trainer actor")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    counts = [int(c) for c in args.counts.split(",")]
    nav_counts = [int(c) for c in args.nav_counts.split(",")]
    bound = int(args.bound_mib * MIB)
    started = time.perf_counter()
    bases = make_bases(min(args.distinct, max(counts)), args.side)
    out = sys.stdout
    sections = []
    sections.append(
        memory_table("AnnotationStore in this process", store_memory(bases, counts, bound))
    )
    costs = tile_costs(bases, min(100, max(counts)), args.tiles)
    sections.append(
        f"**Per tile ({TRAIN_TILE}², median of {args.tiles})**\n\n| case | ms |\n|---|---|\n"
        + "\n".join(f"| {case} | {ms:.2f} |" for case, ms in costs.items())
    )
    before, after, kept, kept_bytes, per_put = queue_memory(args.queued, args.side)
    image_bytes = args.side * args.side * 3
    sections.append(
        f"**{args.queued:,} segmentation requests of {args.side}² (distinct names)**\n\n"
        "| RSS before MiB | RSS after MiB | requests kept | images kept MiB | "
        "all images would be MiB | µs per put |\n|---|---|---|---|---|---|\n"
        f"| {before.rss:.0f} | {after.rss:.0f} | {kept:,} | {kept_bytes / MIB:.0f} | "
        f"{args.queued * image_bytes / MIB:.0f} | {per_put:.0f} |"
    )
    with tempfile.TemporaryDirectory(prefix="rptui-load-") as tmp:
        folder = Path(tmp)
        if not args.no_ray:
            workspace = folder / "ray-workspace"
            connect(
                workspace,
                head_options=HeadOptions(num_cpus=args.cpus, object_store_memory=STORE_BYTES),
            )
            try:
                rows = asyncio.run(trainer_memory(bases, counts, bound))
            finally:
                disconnect()
                stop(workspace)
            sections.insert(0, memory_table(f"TrainerActor (bound {args.bound_mib:g} MiB)", rows))
        workspace = navigation_workspace(folder / "nav-workspace", bases, max(nav_counts))
        nav_rows = []
        for count in nav_counts:
            annotate_project(workspace, f"nav{count}", bases, count)
            samples, opened = asyncio.run(
                navigation(workspace, f"nav{count}", args.presses, min(nav_counts))
            )
            nav_rows.append(f"| {count} | {samples.ms()} | {opened:.2f} |")
        sections.append(
            f"**Next/previous image (n/p) key to frame, {max(nav_counts)} images of "
            f"{args.side}² in the project**\n\n| annotated images | p50 / p90 ms | "
            "open to first frame s |\n|---|---|---|\n" + "\n".join(nav_rows)
        )
    load = os.getloadavg()
    out.write(
        f"`{' '.join(['python', *sys.argv])}`: {args.side}² images from {len(bases)} generated, "
        f"bound {args.bound_mib:g} MiB; {time.perf_counter() - started:.0f} s; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n\n"
    )
    out.write("\n\n".join(sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
