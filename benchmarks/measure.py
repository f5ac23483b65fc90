"""Time all four measurements (length, count, tips, regions) of a generated root mask.

Run: ``.venv/bin/python benchmarks/measure.py [--size 2000] [--repeats 5] [--seed 0]``.
Prints the median time of each measurement on its own and of all four together
(:func:`cluster.measure.tables.measure_all`, which shares the skeleton and the labelling).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from cluster.measure.regions import region_table
from cluster.measure.tables import measure_all, measure_mask
from cluster.simulate.synthetic import generate_root_image


def _median_seconds(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000, help="mask side in pixels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    _, mask = generate_root_image(seed=args.seed, height=args.size, width=args.size)
    row, table = measure_all(mask)
    out = sys.stdout
    out.write(
        f"mask {args.size}x{args.size}, {np.count_nonzero(mask) / mask.size:.1%} foreground; "
        f"{row}; {len(table)} regions\n"
    )
    cases: dict[str, Callable[[], object]] = {
        "length": lambda: measure_mask(mask, kinds=("length",)),
        "count": lambda: measure_mask(mask, kinds=("count",)),
        "tips": lambda: measure_mask(mask, kinds=("tips",)),
        "regions": lambda: region_table(mask),
        "all four (measure_all)": lambda: measure_all(mask),
    }
    for name, work in cases.items():
        out.write(f"{name:24s} {_median_seconds(work, args.repeats) * 1000:8.1f} ms\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
