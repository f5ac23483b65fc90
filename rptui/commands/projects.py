"""``rptui project create|list|import``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rptui.commands.common import workspace_from
from rptui.errors import UserError
from rptui.store.project import DEFAULT_CLASSES

BACKGROUND_CLASS = DEFAULT_CLASSES[0]


def parse_classes(text: str | None) -> tuple[str, ...]:
    """``--classes air,soil,root`` as ("background", "air", "soil", "root").

    None gives the binary default; a list already starting with background keeps it.
    """
    if text is None:
        return DEFAULT_CLASSES
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise UserError(f"--classes {text!r}: an empty class name")
    if names[0].lower() != BACKGROUND_CLASS:
        names.insert(0, BACKGROUND_CLASS)
    return tuple(names)


def parse_colours(text: str | None) -> dict[str, str] | None:
    """``--colours air=#56b4e9,root=#e69f00`` as {class: colour}; None when not given."""
    if text is None:
        return None
    colours: dict[str, str] = {}
    for pair in text.split(","):
        name, sep, colour = pair.partition("=")
        if not sep or not name.strip():
            raise UserError(f"--colours: {pair!r} is not CLASS=#rrggbb")
        colours[name.strip()] = colour.strip()
    return colours


def check_model_file(path: str) -> None:
    """Refuse a starting model that is missing or not a U-Net we can load."""
    from cluster.io.model_files import load_model_file

    if not Path(path).is_file():
        raise UserError(f"no such model file: {path}")
    load_model_file(path)


def run(args: argparse.Namespace) -> int:
    workspace = workspace_from(args)
    if args.action == "create":
        if args.model:
            check_model_file(args.model)
        project = workspace.create_project(
            args.name,
            args.dataset,
            classes=parse_classes(getattr(args, "classes", None)),
            colours=parse_colours(getattr(args, "colours", None)),
            start_model=args.model,
            seed=args.seed,
        )
        classes = project.config.classes
        kinds = "" if len(classes) == 2 else f"; classes {', '.join(classes)}"
        print(f"project {project.name}: {len(project)} images from dataset {args.dataset}{kinds}")
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
