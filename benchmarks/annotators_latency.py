"""Accept to next mask for a second annotator while the first works on the same project.

Run: ``nice -n 15 .venv/bin/python benchmarks/annotators_latency.py [--accepts 10]``.

A temporary workspace gets a generated dataset (256x256 images) and one project; an
embedded Ray head (2 CPUs) runs the project's one trainer and segmenter. Two annotators
("ana", "ben") each open the project as the app does (their own
:class:`~rptui.session.review.ReviewSession` and :class:`~rptui.session.link.BackendLink`,
with image leases and project.json shared through the disk) and reach the same actors by
the project's name. Each simulated annotator looks at the image on screen for
``--work`` seconds, paints a dab, accepts (the annotation is saved and sent to the
trainer) and waits for the next image's mask, as the screen does
(:meth:`~rptui.session.link.masks.MaskFetcher.presegment`: the image on screen at
priority 0, the next ones pre-segmented). One sample = ``accept()`` to the next image's
mask in hand, for ben.

Two phases, the trainer training in both: ben alone, then ben while ana annotates at the
same pace. Prints p50 / p90 per phase, with the part ``accept()`` itself took (saving
the annotation, project.json's read-modify-write, the leases, choosing the next image),
and whether the two were ever served one image.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from cluster.backends.ray_backend import RayBackend
from cluster.head.connect import connect, disconnect
from cluster.head.embedded import stop
from cluster.head.launch import HeadOptions
from cluster.simulate.synthetic import write_dataset
from rptui.session.link.backend_link import BackendLink
from rptui.session.link.wait import LinkTimings
from rptui.session.review import ReviewSession
from rptui.store.annotator import Annotator
from rptui.store.workspace import Workspace

PROJECT = "two-annotators"
DATASET = "bench"
SIDE = 256
STORE_BYTES = 300 * 1024**2
TRAIN_TILE = 252
MS = 1000.0
CALL_S = 300.0


def make_workspace(root: Path, count: int) -> None:
    workspace = Workspace(root).ensure()
    write_dataset(workspace.dataset_dir(DATASET), count=count, seed=0, height=SIDE, width=SIDE)
    workspace.create_project(PROJECT, DATASET, seed=0).close()


def open_link(root: Path, name: str) -> BackendLink:
    """``name``'s app: the project opened for them, linked to the project's actors."""
    project = Workspace(root, annotator=Annotator.current(name)).open_project(PROJECT)
    backend = RayBackend(PROJECT, tile_size=TRAIN_TILE, tta=True)
    timings = LinkTimings(call_s=CALL_S, give_up_s=CALL_S)  # a loaded machine is slow to start
    return BackendLink(ReviewSession(project), backend, follow=False, timings=timings)


async def annotate(
    link: BackendLink, accepts: int, work_s: float, shown: list[tuple[str, str]]
) -> tuple[list[float], list[float]]:
    """Work, dab, accept, wait for the next mask, ``accepts`` times; returns the waits and,
    of each, the part ``accept()`` took (saving, project.json, leases, the next image) (ms)."""
    session = link.session
    await link.masks.presegment()
    waits: list[float] = []
    disk: list[float] = []
    for _ in range(accepts):
        await asyncio.sleep(work_s)
        session.brush.paint_point(SIDE // 2, SIDE // 2)
        started = time.perf_counter()
        items = session.accept()
        disk.append((time.perf_counter() - started) * MS)
        link.send_soon(items)
        result = await link.masks.presegment()
        waits.append((time.perf_counter() - started) * MS)
        if result is None:
            logging.warning("no mask for %s", session.viewer.name)
        shown.append((session.project.annotator.label, session.viewer.stem))
    return waits, disk


def percentiles(waits: list[float]) -> str:
    ordered = sorted(waits)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.0f} / {p90:.0f} ms (n={len(ordered)})"


async def run(root: Path, args: argparse.Namespace) -> dict[str, tuple[list[float], list[float]]]:
    connect(root, head_options=HeadOptions(num_cpus=args.cpus, object_store_memory=STORE_BYTES))
    ben = open_link(root, "ben")
    ana = open_link(root, "ana")
    shown: list[tuple[str, str]] = []
    try:
        await ben.start_training()
        alone = await annotate(ben, args.accepts, args.work, shown)
        ana_work = asyncio.create_task(annotate(ana, args.accepts + 2, args.work, shown))
        await asyncio.sleep(args.work / 2)  # ana accepts between ben's accepts
        together = await annotate(ben, args.accepts, args.work, shown)
        await ana_work
        await ben.stop_training()
    finally:
        for link in (ben, ana):
            await link.stop()
        backend = ben.backend
        if isinstance(backend, RayBackend):
            await backend.end_actors()
        disconnect()
    stems = [stem for _, stem in shown]
    print(f"images served: {len(stems)}, distinct: {len(set(stems))}")
    return {"ben alone (trainer training)": alone, "ben while ana annotates": together}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accepts", type=int, default=10, help="ben's accepts per phase")
    parser.add_argument("--work", type=float, default=2.0, help="seconds spent on each image")
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    load_before = os.getloadavg()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rptui-bench-annotators-") as folder:
        root = Path(folder)
        make_workspace(root, count=3 * args.accepts + 8)
        try:
            figures = asyncio.run(run(root, args))
        finally:
            stop(root)
    load_after = os.getloadavg()
    print(
        f"embedded Ray, {args.cpus} CPUs; {SIDE}² images; {args.work:.1f} s on each image;"
        f" {time.monotonic() - started:.0f} s in all; load average before"
        f" {' '.join(f'{x:.1f}' for x in load_before)}, after"
        f" {' '.join(f'{x:.1f}' for x in load_after)}"
    )
    print("| phase | accept → next mask p50 / p90 | of which accept() p50 / p90 |")
    print("| --- | --- | --- |")
    for phase, (waits, disk) in figures.items():
        print(f"| {phase} | {percentiles(waits)} | {percentiles(disk)} |")


if __name__ == "__main__":
    main()
