"""``rptui project create|list|import``."""

from __future__ import annotations

import argparse
from pathlib import Path

from rptui.commands.common import check_writable, workspace_from
from rptui.errors import UserError
from rptui.starters import check_start_model
from rptui.store.project_config import DEFAULT_CLASSES
from rptui.store.workspace import Workspace

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


def run(args: argparse.Namespace) -> int:
    workspace = workspace_from(args)
    if args.action == "create":
        if args.model:
            check_start_model(args.model)
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
            name = summary.name + (f" (named {summary.named})" if summary.named else "")
            if summary.error:
                print(f"{name}\tunreadable: {summary.error}")
                continue
            locked = f"\tlocked by {summary.locked_by}" if summary.locked_by else ""
            print(
                f"{name}\t{summary.dataset}\t{summary.n_images} images\t"
                f"{summary.n_annotated} annotated\t{summary.n_models} models{locked}"
            )
    elif args.action == "import":
        project = workspace.import_rootpainter(args.seg_proj)
        print(f"imported RootPainter project {project.name} ({len(project)} images)")
        project.close()
    elif args.action == "import-masks":
        import_mask_folder(workspace, args.project, args.folder, replace=args.replace)
    return 0


def import_mask_folder(workspace: Workspace, name: str, folder: Path, *, replace: bool) -> None:
    """``project import-masks``: check every mask, then save them all, and say what was done."""
    from rptui.store.mask_import import import_masks, plan_import

    if not folder.is_dir():
        raise UserError(f"no such folder: {folder}")
    with workspace.open_project(name) as project:
        check_writable(project)
        plan = plan_import(project, folder, replace=replace)
        saved = import_masks(project, plan)
        splits = [split for _, split in saved]
    print(
        f"imported {len(saved)} masks into {name} as annotations "
        f"({splits.count('train')} train, {splits.count('val')} val)"
    )
    if plan.kept:
        print(f"kept the annotations of {len(plan.kept)} images (--replace replaces them)")
    if plan.ignored:
        print(f"ignored {len(plan.ignored)} files that are not images")
