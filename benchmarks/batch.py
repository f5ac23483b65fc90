"""Batch segmentation throughput: the Ray Data pipeline with 1 and 2 workers, and in-process.

Generates ``--images`` synthetic 720x510 images and one model, then segments them in this
process (one worker object, all cores) and through :func:`cluster.batch.pipeline.segment_paths`
on a local Ray with 1 and 2 workers (the cores split between them). Ray figures are wall-clock
from the call to the last result, so they include starting the actor pool and loading the model
on every worker, as a user's run does.

    python benchmarks/batch.py [--images 8] [--cpus 2] [--precision auto] [--no-tta]
        [--repeats 1]

Cases run in turn, ``--repeats`` rounds; each figure is the median over rounds.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from cluster.batch.pipeline import segment_paths
from cluster.batch.worker import BatchSettings, SegmentWorker
from cluster.io.model_files import model_to_bytes
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.simulate.synthetic import write_dataset

log = logging.getLogger(__name__)

HEIGHT, WIDTH = 510, 720
STORE_BYTES = 300 * 1024**2
MEGA = 1e6
WORKER_COUNTS = (1, 2)


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    case: str
    seconds: float
    images: int

    def line(self, baseline: float) -> str:
        rate = self.images / self.seconds
        mp = self.images * HEIGHT * WIDTH / MEGA / self.seconds
        return (
            f"| {self.case} | {self.seconds:.1f} | {rate:.2f} | {mp:.3f} | {rate / baseline:.2f} |"
        )


def in_process(paths: list[Path], blobs: list[bytes], settings: BatchSettings, cpus: int) -> Row:
    """One worker object in this process, model already loaded."""
    worker = SegmentWorker(blobs, settings, threads=cpus)
    started = time.perf_counter()
    for path in paths:
        result = worker.one(path.name, str(path))
        if result.error:
            raise RuntimeError(result.error)
    return Row(f"in-process, {cpus} threads", time.perf_counter() - started, len(paths))


def on_ray(paths: list[Path], blobs: list[bytes], settings: BatchSettings, workers: int) -> Row:
    """The Ray Data pipeline, bytes through the object store, actor start included."""
    started = time.perf_counter()
    results = list(segment_paths(paths, blobs, settings, workers=workers))
    seconds = time.perf_counter() - started
    failed = [r.error for r in results if r.error]
    if failed:
        raise RuntimeError(failed[0])
    return Row(f"Ray Data, {workers} worker(s)", seconds, len(paths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--no-tta", action="store_true")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import ray

    torch.manual_seed(0)
    blobs = [model_to_bytes(snapshot_from_model(UNetGNRes(), version=1))]
    settings = BatchSettings(tta=not args.no_tta, precision=args.precision)
    with tempfile.TemporaryDirectory(prefix="rptui-bench-batch-") as folder:
        paths = write_dataset(Path(folder), count=args.images, seed=1, height=HEIGHT, width=WIDTH)
        ray.init(
            num_cpus=args.cpus,
            object_store_memory=STORE_BYTES,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        rounds: list[list[Row]] = []
        try:
            for _ in range(args.repeats):
                here = in_process(paths, blobs, settings, args.cpus)
                rounds.append([here, *(on_ray(paths, blobs, settings, w) for w in WORKER_COUNTS)])
        finally:
            ray.shutdown()
    rows = [
        Row(case[0].case, statistics.median(r.seconds for r in case), case[0].images)
        for case in zip(*rounds, strict=True)
    ]
    baseline = rows[0].images / rows[0].seconds
    tta = "no TTA" if args.no_tta else "flip TTA"
    print(
        f"{args.images} images of {WIDTH}x{HEIGHT}, 1 model, {tta}, precision {args.precision},"
        f" {args.cpus} CPUs"
    )
    print()
    print("| case | seconds | images/s | MP/s | vs in-process |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(row.line(baseline))
    by_workers = {w: r for w, r in zip(WORKER_COUNTS, rows[1:], strict=True)}
    ratio = by_workers[1].seconds / by_workers[2].seconds
    print()
    print(f"2 workers / 1 worker throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
