"""What ``--model`` names: a model file, ``PROJECT`` (its pinned model, else its newest and
best), ``PROJECT:N`` or a starter model shipped with the package (``starter:roots``)."""

from __future__ import annotations

from pathlib import Path

from rptui.errors import UserError
from rptui.starters import is_starter, starter_file
from rptui.store.paths import ModelFileInfo
from rptui.store.project import Project
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
        return _chosen_model(project, models, spec).path
    if not number.isdigit():
        raise UserError(f"--model {spec}: expected PROJECT:N with N a model number")
    info = project.model(int(number))
    if info is None:
        raise UserError(f"--model {spec}: project {name} has no model number {number}")
    return info.path


def _chosen_model(project: Project, models: list[ModelFileInfo], spec: str) -> ModelFileInfo:
    """The pinned model, else the newest (models are saved only when validation F1
    improves); UserError when the pinned model's file is gone."""
    pinned = project.pinned_model()
    if pinned is not None:
        return pinned
    number = project.config.pinned_model
    if number is not None:
        raise UserError(
            f"--model {spec}: the pinned model #{number} of project {project.name} is gone "
            f"(rptui models {project.name} --unpin, or --pin another)"
        )
    return models[-1]
