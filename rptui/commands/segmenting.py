"""``rptui segment INPUT OUTPUT --model M [--model M2 ...]``."""

from __future__ import annotations

import argparse

from rptui.commands.common import workspace_from
from rptui.errors import UserError
from rptui.models import resolve_model
from rptui.progress import progress_bar
from rptui.segment_folder import segment_folder


def run(args: argparse.Namespace) -> int:
    if not args.input.is_dir():
        raise UserError(f"no such folder: {args.input}")
    workspace = workspace_from(args)
    model_paths = [resolve_model(workspace, spec) for spec in args.model]
    with progress_bar(f"segmenting {args.input}") as progress:
        report = segment_folder(
            args.input, args.output, model_paths, fmt=args.format, tta=not args.no_tta,
            precision=args.precision, progress=progress,
        )
    for path, reason in report.failed:
        print(f"failed {path}: {reason}")
    print(
        f"{len(report.written)} masks written to {args.output}, "
        f"{len(report.skipped_existing)} already there, {len(report.failed)} failed"
    )
    return 0
