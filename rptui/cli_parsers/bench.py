"""Parser of ``bench`` (a simulated annotator against the live trainer) and ``bench plot``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rptui.cli_parsers.common import START_MODEL_HELP, add_command


def add_bench_command(sub: argparse._SubParsersAction) -> None:
    """``bench`` (a simulated annotator against the live trainer) and ``bench plot``."""
    from rptui.bench import options

    bench = add_command(
        sub,
        "bench",
        "bench",
        help="the paper's experiment with a simulated annotator",
        description="Annotate images with known masks by a simulated user while the model "
        "trains, then score the model on held-out images. `bench plot RUN...` charts runs.",
    )
    bench.add_argument("--images", type=Path, help="folder of images to annotate")
    bench.add_argument("--masks", type=Path, help="their masks, same stems (8-bit, fg > 0)")
    bench.add_argument("--test-images", type=Path, help="held-out images (with --test-masks)")
    bench.add_argument("--test-masks", type=Path, help="masks of the held-out images")
    bench.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        help=f"hold out this share of --images instead (default {options.DEFAULT_TEST_FRACTION})",
    )
    bench.add_argument("--strategy", choices=options.STRATEGIES, default=options.STRATEGIES[0])
    bench.add_argument(
        "--order",
        choices=options.ORDERS,
        default=options.ORDERS[0],
        help="serve images in the fixed order or the most uncertain next (default %(default)s)",
    )
    bench.add_argument("--max-images", type=int, default=None, help="annotate at most N images")
    bench.add_argument(
        "--seconds",
        type=float,
        default=options.DEFAULT_SECONDS,
        help="annotation time budget, wall clock (default %(default)s)",
    )
    bench.add_argument(
        "--finish-seconds",
        type=float,
        default=options.DEFAULT_FINISH_SECONDS,
        help="then let training run on until early stopping, at most this long "
        "(default %(default)s)",
    )
    bench.add_argument(
        "--tile-size",
        type=int,
        default=None,
        help="training tile (default: planned for the device; a small one on CPU)",
    )
    bench.add_argument("--batch-size", type=int, default=None)
    bench.add_argument("--epoch-tiles", type=int, default=None, help="fixed epoch length")
    bench.add_argument(
        "--patience", type=int, default=options.DEFAULT_PATIENCE, help="early stopping (epochs)"
    )
    bench.add_argument("--seed", type=int, default=0, help="image order, test split, strokes")
    bench.add_argument(
        "--momentum",
        type=float,
        default=None,
        help="SGD momentum (default: 0.99 on a GPU, 0.9 on a CPU; see docs/method.md)",
    )
    bench.add_argument(
        "--optimizer",
        choices=options.OPTIMIZERS,
        default=None,
        help="the trainer's optimiser (default: adam on a CPU, sgd on a GPU; docs/method.md)",
    )
    bench.add_argument("--model", default=None, help=START_MODEL_HELP)
    bench.add_argument(
        "--pace",
        choices=options.PACES,
        default=options.DEFAULT_PACE,
        help="wait the simulated user's time per image, by this time model (default %(default)s)",
    )
    bench.add_argument(
        "--max-clear-examples",
        type=int,
        default=options.DEFAULT_MAX_CLEAR,
        help="clear examples before corrections even if the masks do not yet look right "
        "(default %(default)s)",
    )
    bench.add_argument(
        "--correction-seconds",
        type=float,
        default=None,
        help="mouse time the user spends correcting an image, largest errors first "
        f"(default {options.DEFAULT_CORRECTION_SECONDS:g})",
    )
    bench.add_argument(
        "--correct-all",
        action="store_true",
        help="correct every error region however small and long it takes (an ablation)",
    )
    bench.add_argument(
        "--eval-models",
        type=int,
        default=options.DEFAULT_EVAL_MODELS,
        help="saved models scored on the test images for the F1 curve (default %(default)s)",
    )
    bench.add_argument("--out", type=Path, help="new folder for the run's outputs")
    bench.set_defaults(action=None)
    bench_sub = bench.add_subparsers(dest="action", metavar="ACTION")
    plot = bench_sub.add_parser("plot", help="chart F1 of one or several bench runs")
    plot.add_argument("runs", type=Path, nargs="+", help="bench output folders")
    plot.add_argument("-o", "--output", type=Path, required=True, help="chart to write (PNG)")
