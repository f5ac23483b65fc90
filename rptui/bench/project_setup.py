"""The bench's own workspace inside ``--out``: a dataset of the annotation images, a project."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from rptui.bench.pairs import ImagePair
from rptui.errors import UserError
from rptui.store.project import Project
from rptui.store.workspace import Workspace

WORKSPACE_FOLDER = "workspace"
DATASET_NAME = "bench"
PROJECT_NAME = "bench"


@dataclass(frozen=True)
class BenchProject:
    """The project the simulated user annotates, and each image's truth by stem."""

    workspace: Workspace
    project: Project
    truth: dict[str, ImagePair]

    def pair_at(self, index: int) -> ImagePair:
        """The image pair at position ``index`` of the project order."""
        return self.truth[self.project.stem(index)]


def create_bench_project(
    out: Path, pairs: list[ImagePair], *, seed: int, start_model: str | None = None
) -> BenchProject:
    """Copy the annotation images into ``out/workspace`` and create the project on them.

    The project order is the project's own (sorted names shuffled by ``seed``), as for
    any project a user creates; ``start_model`` (a model file or ``starter:NAME``) is its
    model 1, as ``project create --model`` makes it.

    Raises:
        UserError: ``out`` already holds a bench run.
    """
    root = Path(out) / WORKSPACE_FOLDER
    if root.exists():
        raise UserError(f"{out} already holds a bench run; choose a new --out folder")
    workspace = Workspace(root).ensure()
    dataset = workspace.dataset_dir(DATASET_NAME)
    dataset.mkdir(parents=True)
    for pair in pairs:
        shutil.copyfile(pair.image, dataset / pair.image.name)
    project = workspace.create_project(
        PROJECT_NAME, DATASET_NAME, seed=seed, start_model=start_model
    )
    return BenchProject(workspace, project, {pair.stem: pair for pair in pairs})
