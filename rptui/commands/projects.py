"""``rptui project create|list|import``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rptui.commands.common import workspace_from
from rptui.errors import UserError


def check_model_file(path: str) -> None:
    """Refuse a starting model that is missing or not a U-Net we can load."""
    from cluster.modelfile import load_model_file

    if not Path(path).is_file():
        raise UserError(f"no such model file: {path}")
    load_model_file(path)


def run(args: argparse.Namespace) -> int:
    workspace = workspace_from(args)
    if args.action == "create":
        if args.model:
            check_model_file(args.model)
        project = workspace.create_project(
            args.name, args.dataset, start_model=args.model, seed=args.seed
        )
        print(f"project {project.name}: {len(project)} images from dataset {args.dataset}")
        project.close()
    elif args.action == "list":
        summaries = workspace.list_projects()
        if not summaries:
            print(f"no projects in {workspace.root}")
        for summary in summaries:
            if summary.error:
                print(f"{summary.name}\tunreadable: {summary.error}")
                continue
            locked = f"\tlocked by {summary.locked_by}" if summary.locked_by else ""
            print(
                f"{summary.name}\t{summary.dataset}\t{summary.n_images} images\t"
                f"{summary.n_annotated} annotated\t{summary.n_models} models{locked}"
            )
    elif args.action == "import":
        project = workspace.import_rootpainter(args.seg_proj)
        print(f"imported RootPainter project {project.name} ({len(project)} images)")
        project.close()
    return 0
