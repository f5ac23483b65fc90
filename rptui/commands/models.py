"""``rptui models PROJECT``: list a project's saved models, pin one, compare two, prune."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from cluster.io.model_files import load_model_file
from cluster.io.model_metadata import ANNOTATIONS_VAL
from rptui.cli_parsers.models import DEFAULT_KEEP
from rptui.commands.common import check_writable, workspace_from
from rptui.errors import UserError
from rptui.store.model_diff import diff_lines
from rptui.store.model_registry import (
    ModelEntry,
    annotations_text,
    best_model,
    epoch_text,
    f1_text,
    parent_text,
    prune_plan,
    read_entry,
    read_models,
    settings_text,
    time_text,
    validation_sizes,
)
from rptui.store.paths import ModelFileInfo
from rptui.store.project import Project
from rptui.store.workspace import Workspace

HEADER = ("#", "saved", "F1", "epoch", "annotations seen", "parent", "settings", "")
COLUMN_GAP = "  "
MEGABYTE = 1 << 20


def run(args: argparse.Namespace) -> int:
    workspace = workspace_from(args)
    keep = _checked_keep(args)
    if args.pin is not None or args.unpin:
        pin(workspace, args.project, None if args.unpin else args.pin)
    elif args.diff is not None:
        diff(workspace, args.project, *args.diff)
    elif args.prune:
        prune(workspace, args.project, keep=keep, remove=args.yes)
    else:
        with workspace.open_project(args.project, read_only=True) as project:
            for line in listing(project):
                print(line)
    return 0


def _checked_keep(args: argparse.Namespace) -> int:
    """``--keep`` (default DEFAULT_KEEP); UserError when it or ``--yes`` comes without
    ``--prune``, or when it keeps no model."""
    if not args.prune and (args.keep is not None or args.yes):
        raise UserError("--keep and --yes go with --prune")
    keep = DEFAULT_KEEP if args.keep is None else args.keep
    if keep < 1:
        raise UserError(f"--keep {keep}: keep at least the newest model (--keep 1)")
    return keep


def _writable(workspace: Workspace, name: str) -> Project:
    """The project opened for writing; UserError saying why when it is read-only."""
    project = workspace.open_project(name)
    try:
        check_writable(project)
    except UserError:
        project.close()
        raise
    return project


def _model(project: Project, number: int) -> ModelFileInfo:
    """The file of model ``number`` (the newest of that number); UserError when none."""
    info = project.model(number)
    if info is None:
        raise UserError(f"project {project.name} has no model number {number}")
    return info


# -- listing ----------------------------------------------------------------------------------
def listing(project: Project) -> list[str]:
    """The table of the project's models, then which one ``--model PROJECT`` and the
    app's trainer use."""
    entries = read_models(project)
    if not entries:
        return [f"project {project.name} has no models yet"]
    best = best_model(entries)
    pinned = project.config.pinned_model
    rows = [_row(entry, pinned=pinned, best=entry is best) for entry in entries]
    lines = [*aligned([list(HEADER), *rows]), "", _in_use(project, entries, best)]
    sizes = validation_sizes(entries)
    if len(sizes) > 1:
        lines.append(
            f"the F1s were measured on validation sets of {sizes[0]} to {sizes[-1]} "
            "annotations (the val count of each row): best compares them as recorded"
        )
    return lines


def _row(entry: ModelEntry, *, pinned: int | None, best: bool) -> list[str]:
    marks = ", ".join(
        mark for mark, applies in (("pinned", entry.number == pinned), ("best", best)) if applies
    )
    if entry.error is not None:
        return [str(entry.number), time_text(entry), f"cannot be read: {entry.error}", marks]
    return [
        str(entry.number),
        time_text(entry),
        f1_text(entry.f1),
        epoch_text(entry),
        annotations_text(entry),
        parent_text(entry),
        settings_text(entry),
        marks,
    ]


def aligned(rows: Sequence[list[str]]) -> list[str]:
    """Rows as lines of left-aligned columns; a short row (an unreadable file) lets its
    second-to-last cell run on and ends with its last."""
    width = len(rows[0])
    sizes = [max(len(row[i]) for row in rows if len(row) == width) for i in range(width)]
    lines = []
    for row in rows:
        cells = [cell.ljust(size) for cell, size in zip(row[:-1], sizes, strict=False)]
        lines.append(COLUMN_GAP.join([*cells, row[-1]]).rstrip())
    return lines


def _in_use(project: Project, entries: list[ModelEntry], best: ModelEntry | None) -> str:
    """Which model ``--model PROJECT`` names and the app's trainer starts from."""
    name = project.name
    best_text = ""
    if best is not None:
        n_val = best.recorded(ANNOTATIONS_VAL)
        on = f" on {n_val} val annotations" if n_val is not None else ""
        best_text = f"; best: #{best.number} (validation F1 {f1_text(best.f1)}{on})"
    pinned = project.config.pinned_model
    if pinned is None:
        return (
            f"no model pinned: --model {name} and the app's trainer use the newest, "
            f"#{entries[-1].number}{best_text}"
        )
    if project.pinned_model() is None:
        return (
            f"pinned: #{pinned}, but its file is gone: --model {name} refuses and the app's "
            f"trainer uses the newest (rptui models {name} --unpin){best_text}"
        )
    return (
        f"pinned: #{pinned}: --model {name} names it and the app's trainer starts from it "
        f"when the project opens{best_text}"
    )


# -- pin, diff, prune ---------------------------------------------------------------------------
def pin(workspace: Workspace, name: str, number: int | None) -> None:
    """Pin model ``number`` (None unpins); a file that cannot be read is not pinned."""
    with _writable(workspace, name) as project:
        if number is not None:
            entry = read_entry(_model(project, number))
            if entry.error is not None:
                raise UserError(f"model #{number} cannot be read ({entry.error}); not pinned")
        was = project.config.pinned_model
        project.pin_model(number)
        newest = project.newest_model()
    if number is not None:
        print(
            f"pinned model #{number} of {name}: --model {name} names it and the app's "
            "trainer starts from it when the project opens"
        )
    elif was is None:
        print(f"no model of {name} was pinned")
    else:
        newest_text = f", #{newest.number}" if newest is not None else ""
        print(
            f"unpinned model #{was} of {name}: --model {name} and the app's trainer use the "
            f"newest{newest_text}"
        )


def diff(workspace: Workspace, name: str, first: int, second: int) -> None:
    """Print what changed from model ``first`` to model ``second``."""
    with workspace.open_project(name, read_only=True) as project:
        infos = [_model(project, number) for number in (first, second)]
    snapshots = [load_model_file(info.path) for info in infos]
    entries = [ModelEntry(info, snapshot) for info, snapshot in zip(infos, snapshots, strict=True)]
    for line in diff_lines(entries[0], entries[1], snapshots[0], snapshots[1]):
        print(line)


def prune(workspace: Workspace, name: str, *, keep: int, remove: bool) -> None:
    """List (or, with ``remove``, delete) the models all but the pinned, the best and the
    newest ``keep``."""
    project = _writable(workspace, name) if remove else workspace.open_project(name, read_only=True)
    with project:
        entries = read_models(project)
        doomed = prune_plan(entries, pinned=project.config.pinned_model, keep=keep)
        size = sum(entry.info.path.stat().st_size for entry in doomed)
        for entry in doomed if remove else ():
            project.remove_model(entry.info)
    if not doomed:
        print(f"nothing to prune: {name} has {len(entries)} models, all kept")
        return
    verb = "removed" if remove else "would remove"
    print(
        f"{verb} {len(doomed)} of {len(entries)} models of {name}, {size / MEGABYTE:.1f} MB "
        f"(kept: the pinned, the best and the newest {keep}):"
    )
    for entry in doomed:
        print(f"  #{entry.number}  {entry.info.path.name}  F1 {f1_text(entry.f1)}")
    if not remove:
        print("run again with --yes to remove them")
