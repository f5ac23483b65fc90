"""Time the measurements of a generated root mask: each kind alone, all traits together.

Run: ``.venv/bin/python benchmarks/measure.py [--size 2000] [--repeats 5] [--seed 0]``.
Prints the median wall time and the median CPU time of this process (which a busy
machine inflates less) of each kind on its own, of every per-image trait together
(:func:`cluster.measure.tables.measure_mask` with ``all``, one skeleton shared), and of
every trait with the per-region table too (:func:`cluster.measure.tables.measure_all`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from cluster.measure.regions import region_table
from cluster.measure.tables import IMAGE_KINDS, measure_all, measure_mask
from cluster.measure.traits import TraitSettings
from cluster.simulate.synthetic import generate_root_image

DIAMETER_CLASSES = (2.0, 4.0, 8.0)  # px: three thresholds, four classes


def _median_seconds(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``work``."""
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000, help="mask side in pixels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    _, mask = generate_root_image(seed=args.seed, height=args.size, width=args.size)
    traits = TraitSettings(diameter_classes=DIAMETER_CLASSES)
    row, table = measure_all(mask, traits=traits)
    out = sys.stdout
    out.write(
        f"mask {args.size}x{args.size}, {np.count_nonzero(mask) / mask.size:.1%} foreground, "
        f"{row['skeleton_pixels']} skeleton pixels, {len(table)} regions, "
        f"{len(row)} per-image columns; load average {os.getloadavg()[0]:.1f}\n"
    )
    cases: dict[str, Callable[[], object]] = {
        kind: (lambda kind=kind: measure_mask(mask, kinds=(kind,), traits=traits))
        for kind in IMAGE_KINDS
    }
    cases["regions (geometry only)"] = lambda: region_table(mask)
    cases["every per-image trait"] = lambda: measure_mask(mask, kinds=("all",), traits=traits)
    cases["every trait and regions"] = lambda: measure_all(mask, traits=traits)
    out.write(f"{'measurement':26s} {'wall ms':>8s} {'cpu ms':>8s}\n")
    for name, work in cases.items():
        wall, cpu = _median_seconds(work, args.repeats)
        out.write(f"{name:26s} {wall * 1000:8.1f} {cpu * 1000:8.1f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
