"""``rptui measure SEG_DIR`` and ``rptui correlate AUTO MANUAL``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cluster.io.atomic import write_bytes_atomic
from rptui.errors import UserError
from rptui.folders.tables import PARQUET_SUFFIX, TABLE_SUFFIXES, read_table, table_bytes
from rptui.progress import progress_bar

log = logging.getLogger(__name__)

LISTED_AT_MOST = 20
VOLUME_TABLE_STEM = "volumes"
VOXEL_AXES = 3


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


def _measure(args: argparse.Namespace) -> int:
    from cluster.io.images import list_images
    from cluster.measure.files import measure_files, volume_table
    from cluster.measure.tables import ERROR_COLUMN, check_kinds

    try:
        kinds = check_kinds(args.kind.split(","))
    except ValueError as error:
        raise UserError(str(error)) from error
    if args.px_per_mm is not None and args.px_per_mm <= 0:
        raise UserError("--px-per-mm must be positive")
    if args.min_area < 0:
        raise UserError("--min-area must be 0 or more")
    output: Path = args.output
    if output.suffix.lower() not in TABLE_SUFFIXES:
        raise UserError(f"the table must end in .csv or .parquet, not {output.name!r}")
    volumes_path: Path = args.volume_table or output.with_name(VOLUME_TABLE_STEM + output.suffix)
    if volumes_path.suffix.lower() not in TABLE_SUFFIXES:
        raise UserError(f"the table must end in .csv or .parquet, not {volumes_path.name!r}")
    voxel_size = parse_voxel_size(args.voxel_size)
    if PARQUET_SUFFIX in (output.suffix.lower(), volumes_path.suffix.lower()):
        _check_parquet_engine()
    if not args.seg_dir.is_dir():
        raise UserError(f"no such folder: {args.seg_dir}")
    paths, skipped = list_images(args.seg_dir)
    for path, reason in skipped:
        log.info("skipped %s: %s", path, reason)
    if not paths:
        raise UserError(f"no mask images in {args.seg_dir}")
    volumes: list[dict] = []
    with progress_bar(f"measuring {args.seg_dir}") as progress:
        table = measure_files(
            paths,
            kinds=kinds,
            px_per_mm=args.px_per_mm,
            min_area=args.min_area,
            objects=args.objects,
            progress=progress,
            classes=parse_classes(args.classes),
            volumes=volumes,
            voxel_size=voxel_size,
        )
    write_bytes_atomic(output, table_bytes(table, output))
    if volumes:
        write_bytes_atomic(volumes_path, table_bytes(volume_table(volumes), volumes_path))
        print(
            f"volumes of {len({row['stack'] for row in volumes})} stacks written to {volumes_path}"
        )
    failed = table.loc[table[ERROR_COLUMN] != "", ["file", ERROR_COLUMN]]
    for name, reason in failed.itertuples(index=False):
        print(f"failed {name}: {reason}")
    per = "region" if "regions" in kinds else "image"
    print(
        f"{len(paths) - len(failed)} of {len(paths)} masks measured ({', '.join(kinds)}): "
        f"{len(table) - len(failed)} rows, one per {per}, written to {output}"
    )
    return 0


def _correlate(args: argparse.Namespace) -> int:
    from rptui.folders.correlate import correlate, scatter_png, summary_lines, text_scatter

    auto = read_table(args.auto_csv)
    manual = read_table(args.manual_csv)
    result = correlate(
        auto, manual, auto_column=args.auto_column, manual_column=args.manual_column, on=args.on
    )
    plot: Path = args.plot or args.auto_csv.with_name(f"{args.auto_csv.stem}_correlation.png")
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
