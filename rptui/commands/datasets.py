"""``rptui dataset create``."""

from __future__ import annotations

import argparse
import contextlib
import logging

from rptui.commands.common import workspace_from
from rptui.errors import UserError
from rptui.progress import progress_bar
from rptui.store.dataset import create_dataset
from rptui.store.paths import child_path

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    if not args.source.is_dir():
        raise UserError(f"no such folder: {args.source}")
    workspace = workspace_from(args)
    destination = child_path(workspace.datasets_dir, args.name, what="dataset name")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise UserError(f"dataset {args.name} exists already ({destination}); choose another name")
    with progress_bar(f"dataset {args.name}") as progress:
        report = create_dataset(
            args.source,
            destination,
            sample=args.sample,
            tiles_per_image=args.tiles_per_image,
            target_size=args.target_size,
            seed=args.seed,
            progress=progress,
        )
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}")
    if not report.written:
        with contextlib.suppress(OSError):  # only an empty folder goes; never data
            destination.rmdir()
        raise UserError(f"no image could be read in {args.source}; dataset {args.name} not made")
    print(f"dataset {args.name}: {len(report.written)} images in {destination}")
    return 0
