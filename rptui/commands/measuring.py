"""``rptui measure SEG_DIR`` and ``rptui correlate AUTO MANUAL``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from cluster.io.atomic import write_bytes_atomic
from rptui.errors import UserError
from rptui.folders.outputs import check_output_file
from rptui.folders.tables import PARQUET_SUFFIX, TABLE_SUFFIXES, read_table, table_bytes
from rptui.progress import progress_bar

if TYPE_CHECKING:
    from cluster.measure.traits import TraitSettings

log = logging.getLogger(__name__)

LISTED_AT_MOST = 20
VOLUME_TABLE_STEM = "volumes"
VOXEL_AXES = 3
MM_PER_INCH = 25.4


def parse_voxel_size(text: str | None) -> tuple[float, float, float] | None:
    """``--voxel-size X,Y,Z`` in mm (three positive numbers), or None when not given."""
    if text is None:
        return None
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) != VOXEL_AXES or not all(0 < value < float("inf") for value in values):
        raise UserError(f"--voxel-size takes three positive sizes in mm, X,Y,Z; not {text!r}")
    return values[0], values[1], values[2]


def parse_classes(text: str | None) -> tuple[str, ...]:
    """``--classes a,b,c`` (foreground names) as class names with background first."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    return ("background", *names) if names else ()


def _check_parquet_engine() -> None:
    for engine in ("pyarrow", "fastparquet"):
        try:
            __import__(engine)
        except ImportError:
            continue
        return
    raise UserError("writing Parquet needs pyarrow (pip install pyarrow); or name the table .csv")


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED_AT_MOST])
    more = len(names) - LISTED_AT_MOST
    return shown + (f" ... and {more} more" if more > 0 else "")


def parse_scale(args: argparse.Namespace) -> float | None:
    """Pixels per mm from ``--px-per-mm`` or ``--dpi`` (at most one of them), or None."""
    if args.px_per_mm is not None and args.dpi is not None:
        raise UserError("give --px-per-mm or --dpi, not both")
    if args.dpi is not None:
        if not 0 < args.dpi < float("inf"):
            raise UserError("--dpi must be positive")
        return float(args.dpi) / MM_PER_INCH
    if args.px_per_mm is not None and not 0 < args.px_per_mm < float("inf"):
        raise UserError("--px-per-mm must be positive")
    return args.px_per_mm


def parse_traits(args: argparse.Namespace) -> TraitSettings:
    """``--prune``, ``--diameter-classes`` and ``--angle-window`` as trait settings."""
    from cluster.measure.catalogue import check_thresholds
    from cluster.measure.orientation import MAX_ANGLE_WINDOW
    from cluster.measure.traits import TraitSettings

    if not 0 <= args.prune < float("inf"):
        raise UserError("--prune must be 0 or more (px)")
    window = TraitSettings().angle_window_px if args.angle_window is None else args.angle_window
    if not 1 <= window <= MAX_ANGLE_WINDOW:
        raise UserError(f"--angle-window must be 1 to {MAX_ANGLE_WINDOW} (px), not {window}")
    text = args.diameter_classes
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    try:
        values = [float(part) for part in parts]
    except ValueError:
        raise UserError(
            f"--diameter-classes {text!r}: thresholds are numbers, e.g. 0.5,1,2"
        ) from None
    try:
        thresholds = check_thresholds(values)
    except ValueError as error:
        raise UserError(f"--diameter-classes {text!r}: {error}") from error
    return TraitSettings(
        prune_px=float(args.prune), diameter_classes=thresholds, angle_window_px=window
    )


def _list_traits() -> int:
    from rptui.folders.measuring import trait_lines

    for line in trait_lines():
        print(line)
    return 0


def _row_unit(columns: Iterable[str]) -> str:
    """What a per-image table's row stands for: an image or a slice, and a class."""
    named = set(columns)
    unit = "slice" if "slice" in named else "image"
    return f"{unit} and class" if "class" in named else unit


def _measure(args: argparse.Namespace) -> int:
    from rptui.folders.measuring import chosen_kinds, measure_folder

    if args.list_traits:
        return _list_traits()
    if args.seg_dir is None or args.output is None:
        raise UserError("name the folder of masks and the table to write: SEG_DIR -o TABLE")
    kinds = chosen_kinds(args.kind.split(","))
    px_per_mm = parse_scale(args)
    traits = parse_traits(args)
    if args.min_area < 0:
        raise UserError("--min-area must be 0 or more")
    output: Path = args.output
    if output.suffix.lower() not in TABLE_SUFFIXES:
        raise UserError(f"the table must end in .csv or .parquet, not {output.name!r}")
    volumes_path: Path = args.volume_table or output.with_name(VOLUME_TABLE_STEM + output.suffix)
    if volumes_path.suffix.lower() not in TABLE_SUFFIXES:
        raise UserError(f"the table must end in .csv or .parquet, not {volumes_path.name!r}")
    voxel_size = parse_voxel_size(args.voxel_size)
    check_output_file(output)
    if args.volume_table is not None:
        check_output_file(volumes_path, what="the volume table")
    if PARQUET_SUFFIX in (output.suffix.lower(), volumes_path.suffix.lower()):
        _check_parquet_engine()
    if not args.seg_dir.is_dir():
        raise UserError(f"no such folder: {args.seg_dir}")
    with progress_bar(f"measuring {args.seg_dir}") as progress:
        measured = measure_folder(
            args.seg_dir,
            kinds=kinds,
            px_per_mm=px_per_mm,
            min_area=args.min_area,
            objects=args.objects,
            classes=parse_classes(args.classes),
            voxel_size=voxel_size,
            traits=traits,
            progress=progress,
        )
    for path, reason in measured.skipped:
        log.info("skipped %s: %s", path, reason)
    table = measured.table
    write_bytes_atomic(output, table_bytes(table, output))
    if measured.volumes is not None:
        write_bytes_atomic(volumes_path, table_bytes(measured.volumes, volumes_path))
        print(f"volumes of {measured.volumes['stack'].nunique()} stacks written to {volumes_path}")
    failed = measured.failed
    for name, reason in failed.itertuples(index=False):
        print(f"failed {name}: {reason}")
    per = "region" if "regions" in kinds else _row_unit(table.columns)
    total = len(measured.paths)
    print(
        f"{total - len(failed)} of {total} masks measured ({', '.join(kinds)}): "
        f"{len(table) - len(failed)} rows, one per {per}, written to {output}"
    )
    return 0


def _correlate(args: argparse.Namespace) -> int:
    from rptui.folders.correlate import correlate, scatter_png, summary_lines, text_scatter

    auto = read_table(args.auto_csv)
    manual = read_table(args.manual_csv)
    plot: Path = args.plot or args.auto_csv.with_name(f"{args.auto_csv.stem}_correlation.png")
    check_output_file(plot, what="the plot")
    manual_column = args.manual_column or args.auto_column
    result = correlate(
        auto, manual, auto_column=args.auto_column, manual_column=manual_column, on=args.on
    )
    scatter_png(result, plot)
    print(f"matched {result.n} rows on {args.on!r} (file names by stem)")
    for line in summary_lines(result):
        print(line)
    if not args.no_text_plot:
        print(text_scatter(result))
    if result.unmatched_auto:
        print(
            f"unmatched in {args.auto_csv.name} ({len(result.unmatched_auto)}): "
            f"{_listed(result.unmatched_auto)}"
        )
    if result.unmatched_manual:
        print(
            f"unmatched in {args.manual_csv.name} ({len(result.unmatched_manual)}): "
            f"{_listed(result.unmatched_manual)}"
        )
    if result.missing_values:
        print(
            f"matched but without a number ({len(result.missing_values)}): "
            f"{_listed(result.missing_values)}"
        )
    print(f"scatter plot written to {plot}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "measure":
        return _measure(args)
    if args.command == "correlate":
        return _correlate(args)
    raise UserError(f"unknown measuring command {args.command!r}")
