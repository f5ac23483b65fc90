"""What a bench run is asked to do, checked once before anything starts."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from rptui.errors import UserError
from rptui.starters import check_start_model

Strategy = Literal["corrective", "dense"]
Pace = Literal["none", "mouse", "keyboard"]
Order = Literal["sequential", "uncertain"]
ORDERS: tuple[Order, ...] = ("sequential", "uncertain")  # as rptui.session.order's modes
STRATEGIES: tuple[Strategy, ...] = ("corrective", "dense")
PACES: tuple[Pace, ...] = ("none", "mouse", "keyboard")
Optimizer = Literal["sgd", "adam"]
OPTIMIZERS: tuple[Optimizer, ...] = ("sgd", "adam")  # as cluster.api.TrainingConfig's
DEFAULT_TEST_FRACTION = 0.25
DEFAULT_SECONDS = 900.0
DEFAULT_FINISH_SECONDS = 240.0
DEFAULT_EVAL_MODELS = 6
DEFAULT_MAX_CLEAR = 6  # the paper's protocol: at most six clear examples
DEFAULT_PATIENCE = 60
DEFAULT_PACE: Pace = "mouse"
DEFAULT_CORRECTION_SECONDS = 40.0  # mouse time per corrected image (the paper's ~36 s)


@dataclass(frozen=True)
class BenchOptions:
    """A bench run's settings (see ``rptui bench --help``)."""

    images: Path
    masks: Path
    out: Path
    strategy: Strategy = "corrective"
    test_images: Path | None = None
    test_masks: Path | None = None
    test_fraction: float = DEFAULT_TEST_FRACTION
    max_images: int | None = None
    seconds: float = DEFAULT_SECONDS
    finish_seconds: float = DEFAULT_FINISH_SECONDS
    tile_size: int | None = None
    batch_size: int | None = None
    epoch_tiles: int | None = None
    patience: int = DEFAULT_PATIENCE
    seed: int = 0
    pace: Pace = DEFAULT_PACE
    max_clear_examples: int = DEFAULT_MAX_CLEAR
    eval_models: int = DEFAULT_EVAL_MODELS
    in_process: bool = False
    order: Order = "sequential"
    correction_seconds: float | None = DEFAULT_CORRECTION_SECONDS  # None: every error
    start_model: str | None = None  # a model file or starter:NAME; None: random weights
    momentum: float | None = None  # None: chosen for the device (docs/method.md, Optimiser)
    optimizer: Optimizer | None = None  # None: chosen for the device


def _positive(value: float | None, flag: str, *, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise UserError(f"{flag} must be {'0 or more' if allow_zero else 'positive'}, got {value}")


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    """Check the command line's bench options; UserError (one line, exit 2) if wrong."""
    from cluster.nn.model import is_valid_input_size  # torch: only once a run is asked for

    for flag, value in (("--images", args.images), ("--masks", args.masks), ("--out", args.out)):
        if value is None:
            raise UserError(f"bench needs {flag}")
    given = (args.test_images is not None, args.test_masks is not None)
    if any(given) and not all(given):
        raise UserError("--test-images and --test-masks go together")
    if all(given) and args.test_fraction is not None:
        raise UserError("give either --test-images/--test-masks or --test-fraction, not both")
    for flag, folder in (
        ("--images", args.images),
        ("--masks", args.masks),
        ("--test-images", args.test_images),
        ("--test-masks", args.test_masks),
    ):
        if folder is not None and not Path(folder).is_dir():
            raise UserError(f"{flag} {folder} is not a folder")
    if args.tile_size is not None and not is_valid_input_size(args.tile_size):
        raise UserError(f"--tile-size {args.tile_size} is not a valid network input size")
    _positive(args.max_images, "--max-images")
    _positive(args.seconds, "--seconds")
    _positive(args.finish_seconds, "--finish-seconds", allow_zero=True)
    _positive(args.batch_size, "--batch-size")
    _positive(args.epoch_tiles, "--epoch-tiles")
    _positive(args.patience, "--patience")
    _positive(args.eval_models, "--eval-models", allow_zero=True)
    correct_all = bool(getattr(args, "correct_all", False))
    correction_seconds = getattr(args, "correction_seconds", None)
    if correct_all and correction_seconds is not None:
        raise UserError("give either --correction-seconds or --correct-all, not both")
    _positive(correction_seconds, "--correction-seconds")
    if correction_seconds is None and not correct_all:
        correction_seconds = DEFAULT_CORRECTION_SECONDS
    start_model = getattr(args, "model", None)
    if start_model:
        check_start_model(start_model)
    momentum = getattr(args, "momentum", None)
    if momentum is not None and not 0.0 <= momentum < 1.0:
        raise UserError(f"--momentum must be at least 0 and below 1, got {momentum}")
    if momentum is not None and getattr(args, "optimizer", None) == "adam":
        raise UserError("--momentum is SGD's: give it with --optimizer sgd, or leave it out")
    if args.max_clear_examples < 2:
        raise UserError("--max-clear-examples must be 2 or more (training needs two images)")
    return BenchOptions(
        images=Path(args.images),
        masks=Path(args.masks),
        out=Path(args.out),
        strategy=args.strategy,
        test_images=args.test_images,
        test_masks=args.test_masks,
        test_fraction=DEFAULT_TEST_FRACTION if args.test_fraction is None else args.test_fraction,
        max_images=args.max_images,
        seconds=args.seconds,
        finish_seconds=args.finish_seconds,
        tile_size=args.tile_size,
        batch_size=args.batch_size,
        epoch_tiles=args.epoch_tiles,
        patience=args.patience,
        seed=args.seed,
        pace=args.pace,
        max_clear_examples=args.max_clear_examples,
        eval_models=args.eval_models,
        in_process=bool(getattr(args, "in_process", False)),
        order=getattr(args, "order", ORDERS[0]),
        correction_seconds=correction_seconds,
        start_model=start_model or None,
        momentum=momentum,
        optimizer=cast("Optimizer | None", getattr(args, "optimizer", None)),  # parser's choices
    )
