"""``rptui segment INPUT OUTPUT --model M [--model M2 ...]``: a folder, on Ray by default."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from functools import partial
from pathlib import Path

import pandas as pd
from rich.console import Console

from cluster.api import WORKER_RESOURCE_ENV, Placement
from cluster.io.atomic import write_bytes_atomic
from cluster.io.model_files import load_model_file
from cluster.measure.tables import ALL_KINDS, EVERY_IMAGE_KIND, IMAGE_KINDS, REGIONS
from rptui.commands.common import keep_ray_off_the_terminal, workspace_from
from rptui.commands.measuring import parse_scale, parse_traits, parse_voxel_size
from rptui.errors import EXIT_FAILURE, UserError, os_error_message
from rptui.folders.outputs import check_output_file, check_output_folder
from rptui.folders.run import FolderReport, segment_folder
from rptui.folders.tables import (
    IMAGE_TABLE_NAME,
    REGION_TABLE_NAME,
    TABLE_SUFFIXES,
    VOLUME_TABLE_NAME,
    table_bytes,
)
from rptui.progress import progress_bar
from rptui.store.models import resolve_model
from rptui.store.workspace import Workspace

log = logging.getLogger(__name__)

MEGA = 1e6
_STDOUT_LOCK = threading.Lock()


def parse_kinds(text: str | None, *, regions_table: bool) -> tuple[str, ...]:
    """The measurement kinds of ``--measure`` (plus regions when a regions table is named)."""
    named = [kind.strip() for kind in (text or "").split(",") if kind.strip()]
    kinds = [k for name in named for k in (IMAGE_KINDS if name == EVERY_IMAGE_KIND else (name,))]
    unknown = [kind for kind in kinds if kind not in ALL_KINDS]
    if unknown:
        choices = ", ".join((*ALL_KINDS, EVERY_IMAGE_KIND))
        raise UserError(f"unknown measurement {', '.join(unknown)}; choose from {choices}")
    if regions_table and REGIONS not in kinds:
        kinds.append(REGIONS)
    return tuple(dict.fromkeys(kinds))


def _table_path(given: Path | None, default: Path, wanted: bool) -> Path | None:
    path = given if given is not None else (default if wanted else None)
    if path is not None and path.suffix.lower() not in TABLE_SUFFIXES:
        raise UserError(f"a table must end in .csv or .parquet, not {path.name!r}")
    return path


def _connect(args: argparse.Namespace, workspace: Workspace) -> bool:
    """Be a Ray driver; True when this call connected (a driver already here is reused)."""
    import ray

    if ray.is_initialized():
        return False
    from cluster.head.connect import connect

    keep_ray_off_the_terminal(args)  # our bar and messages stay on the terminal
    with Console(stderr=True).status("connecting to Ray (the first time, starting it)"):
        connect(workspace.root, args.address)
    return True


def set_worker_resource(name: str) -> None:
    """Place this run's workers on nodes that declare ``name`` (checked here, used by
    the batch pipeline through ``RPTUI_WORKER_RESOURCE``)."""
    try:
        Placement(name)
    except ValueError as error:
        raise UserError(f"--worker-resource: {error}") from error
    os.environ[WORKER_RESOURCE_ENV] = name


def _write_table(table: pd.DataFrame, path: Path) -> None:
    try:
        write_bytes_atomic(path, table_bytes(table, path))
    except ImportError as error:
        raise UserError(f"writing {path.name} needs pyarrow; or name the table .csv") from error
    except OSError as error:
        message, _ = os_error_message(error)
        raise UserError(
            f"{message}; the masks are written: run the same command again (with --table "
            "elsewhere) to make the table from them"
        ) from error


def run(args: argparse.Namespace) -> int:
    if not args.input.is_dir():
        raise UserError(f"no such folder: {args.input}")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be at least 1")
    if args.min_area < 0:
        raise UserError("--min-area must be 0 or more")
    px_per_mm = parse_scale(args)
    traits = parse_traits(args)
    voxel_size = parse_voxel_size(args.voxel_size)
    kinds = parse_kinds(args.measure, regions_table=args.regions_table is not None)
    image_kinds = [kind for kind in kinds if kind in IMAGE_KINDS]
    table = _table_path(args.table, args.output / IMAGE_TABLE_NAME, bool(image_kinds))
    regions = _table_path(args.regions_table, args.output / REGION_TABLE_NAME, REGIONS in kinds)
    workspace = workspace_from(args)
    model_paths = [resolve_model(workspace, spec) for spec in args.model]
    for path in model_paths:  # a bad model file is named before any work starts
        load_model_file(path)
    check_output_folder(args.output, source=args.input)  # before the first image, too
    for table_path in (table, regions):
        if table_path is not None:
            check_output_file(table_path)
    if args.worker_resource is not None:
        set_worker_resource(args.worker_resource)
    use_ray = not args.in_process
    connected = _connect(args, workspace) if use_ray else False
    run_folder = partial(
        segment_folder,
        args.input,
        args.output,
        model_paths,
        fmt=args.format,
        tta=not args.no_tta,
        precision=args.precision,
        kinds=kinds,
        px_per_mm=px_per_mm,
        min_area=args.min_area,
        traits=traits,
        voxel_size=voxel_size,
        use_ray=use_ray,
        shared_storage=args.shared_storage,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    try:
        if args.progress_jsonl:
            report = run_folder(on_progress=print_progress_line, on_wait=print_waiting_line)
        else:
            with progress_bar(f"segmenting {args.input}") as progress:
                report = run_folder(progress=progress, on_wait=progress.say)
    finally:
        if connected:
            from cluster.head.connect import disconnect

            disconnect()
    if table is not None:
        _write_table(report.image_table(), table)
    if regions is not None:
        _write_table(report.region_table(), regions)
    volumes = args.output / VOLUME_TABLE_NAME if report.volume_rows else None
    if volumes is not None:
        _write_table(report.volume_table(), volumes)
    tables = [path for path in (table, regions, volumes) if path]
    if args.progress_jsonl:
        _emit({"report": report.summary(tables)})
    else:
        _print_summary(report, args.output, tables)
    kept = report.written or report.skipped_existing or report.kept_unknown
    return EXIT_FAILURE if report.failed and not kept and not report.cancelled else 0


def print_progress_line(done: int, total: int, name: str, error: str) -> None:
    """One image done, as a JSON line on stdout (``--progress-jsonl``)."""
    _emit({"done": done, "total": total, "file": name, "error": error})


def print_waiting_line(reason: str) -> None:
    """Why nothing has come back yet, as a JSON line on stdout (``--progress-jsonl``)."""
    _emit({"waiting": reason})


def _emit(message: dict[str, object]) -> None:
    """One JSON line on stdout, whole (the wait notice writes from another thread)."""
    with _STDOUT_LOCK:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def _print_summary(report: FolderReport, output: Path, tables: list[Path]) -> None:
    for path, reason in report.failed:
        print(f"failed {path}: {reason}")
    rate = ""
    if report.written and report.seconds > 0:
        rate = f" ({report.pixels / MEGA / report.seconds:.3g} MP/s)"
    print(
        f"{len(report.written)} masks written to {output}{rate}, "
        f"{len(report.skipped_existing)} already there, {len(report.failed)} failed"
    )
    if report.replaced:
        print(f"{len(report.replaced)} of them replace masks made by other models")
    if report.kept_unknown:
        print(
            f"{len(report.kept_unknown)} masks kept that record no models (made elsewhere); "
            "--overwrite redoes them"
        )
    for path in tables:
        print(f"table written to {path}")
