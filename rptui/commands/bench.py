"""``rptui bench``: the simulated-annotator experiment; ``rptui bench plot``: its charts."""

from __future__ import annotations

import argparse
import secrets

from cluster.api import Backend, ModelSnapshot
from rptui.bench.options import options_from_args
from rptui.bench.plots import plot_runs
from rptui.bench.records import ImageRecord
from rptui.bench.run import run_bench, summary_lines
from rptui.commands.common import connect_ray, keep_ray_off_the_terminal

RAY_PROJECT_PREFIX = "bench-"
ACTIONS = {"clear": "clear examples", "dense": "dense labels"}


def progress_line(record: ImageRecord, limit: int) -> str:
    """One line per image on the terminal."""
    action = ACTIONS.get(
        record.phase,
        f"{record.error_regions} errors corrected, {record.uncorrected_px} of "
        f"{record.error_px} error px left",
    )
    if not record.accepted:
        action = f"nothing worth correcting ({record.error_px} error px), skipped"
    return (
        f"[{record.index + 1:>3}/{limit}] {record.image}  {record.phase:<10} "
        f"model #{record.model_version} live F1 {record.live_f1:.3f} "
        f"(conf {record.confidence:.2f})  {action}  "
        f"fg {record.annotated_fg} bg {record.annotated_bg}  "
        f"mouse {record.mouse_seconds:.1f} s kbd {record.keyboard_seconds:.1f} s  "
        f"wall {record.wall_seconds:.0f} s"
    )


def run(args: argparse.Namespace) -> int:
    """Run a bench (or, with `plot`, chart finished runs)."""
    if args.action == "plot":
        plot_runs(list(args.runs), args.output)
        print(f"chart of {len(args.runs)} run(s): {args.output}")
        return 0
    options = options_from_args(args)
    keep_ray_off_the_terminal(args)

    def make_backend(start: ModelSnapshot) -> Backend:
        if options.in_process:
            from cluster.backends.local import LocalBackend

            return LocalBackend(start_model=start)
        from cluster.backends.ray_backend import RayBackend

        connect_ray(args)
        name = RAY_PROJECT_PREFIX + secrets.token_hex(4)
        return RayBackend(name, start_model=start, tile_size=options.tile_size)

    report = run_bench(
        options,
        make_backend,
        on_record=lambda record, limit: print(progress_line(record, limit), flush=True),
        progress=lambda text: print(text, flush=True),
    )
    for line in summary_lines(report):
        print(line)
    print(f"outputs: {options.out}")
    return 0
