"""What ``--model`` names: a model file, ``PROJECT`` (its best model), ``PROJECT:N`` or a
starter model shipped with the package (``starter:roots``)."""

from __future__ import annotations

from pathlib import Path

from rptui.errors import UserError
from rptui.starters import is_starter, starter_file
from rptui.store.workspace import Workspace


def resolve_model(workspace: Workspace, spec: str) -> Path:
    """The model file a ``--model`` value names; UserError when there is none."""
    if is_starter(spec):
        return starter_file(spec)
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    name, _, number = spec.partition(":")
    if not (workspace.projects_dir / name / "project.json").is_file():
        raise UserError(f"--model {spec}: no such model file or project")
    project = workspace.open_project(name, read_only=True)
    models = project.models()
    if not models:
        raise UserError(f"--model {spec}: project {name} has no model yet")
    if not number:
        return models[-1].path  # models are saved only when validation F1 improves
    if not number.isdigit():
        raise UserError(f"--model {spec}: expected PROJECT:N with N a model number")
    for info in models:
        if info.number == int(number):
            return info.path
    raise UserError(f"--model {spec}: project {name} has no model number {number}")
