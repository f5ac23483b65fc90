"""The workspace on disk: datasets and projects, created, listed and opened.

```
<workspace>/datasets/<dataset>/    images
<workspace>/projects/<project>/    project.json, annotations/{train,val}, segmentations,
                                   models, logs (or, for an imported RootPainter project,
                                   project.json only: its data stays in its own folder)
```
Several apps may open one project for writing at once (:mod:`rptui.store.opening`,
docs/workspace.md); ``annotator`` names who saves annotations. Missing folders are
recreated and leftovers of killed writers are removed when a project opens writable.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cluster.io.atomic import write_bytes_atomic
from cluster.io.model_names import model_file_name
from cluster.io.stacks import list_items
from rptui.starters import start_model_source
from rptui.store.annotator import Annotator
from rptui.store.classes import validate_classes, validate_colours
from rptui.store.lock import LockInfo
from rptui.store.opening import exclusive_holder, open_project_at
from rptui.store.paths import (
    CorruptProjectError,
    ReadOnlyProjectError,
    WorkspaceError,
    child_path,
    validate_name,
)
from rptui.store.project import Project
from rptui.store.project_config import (
    DEFAULT_CLASSES,
    PROJECT_FILE_NAME,
    ProjectConfig,
    load_config,
    save_config,
)
from rptui.store.rootpainter import import_rootpainter
from rptui.store.settings import ProjectSettings

__all__ = [
    "CorruptProjectError",
    "ProjectSummary",
    "ReadOnlyProjectError",
    "Workspace",
    "WorkspaceError",
    "default_workspace_root",
]

logger = logging.getLogger(__name__)

WORKSPACE_ENV = "RPTUI_WORKSPACE"
DEFAULT_WORKSPACE = Path("~") / "rptui"
SEED_BITS = 32


def default_workspace_root() -> Path:
    """``$RPTUI_WORKSPACE`` if set, else ``~/rptui``."""
    return Path(os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE).expanduser()


@dataclass(frozen=True)
class ProjectSummary:
    """One line of ``project list``; ``error`` is set for a project that cannot be read.

    ``name`` is the folder's, the name that opens the project; ``named`` the name its
    project.json gives when that differs (a copied project folder).
    """

    name: str
    path: Path
    named: str | None = None
    dataset: str | None = None
    n_images: int = 0
    n_annotated: int = 0
    n_models: int = 0
    locked_by: LockInfo | None = None
    error: str | None = None


def shuffled_order(names: list[str], seed: int) -> list[str]:
    """RootPainter's image order: sorted names shuffled by a seeded generator."""
    order = sorted(names)
    random.Random(seed).shuffle(order)
    return order


class Workspace:
    """The folder holding datasets and projects; projects open for ``annotator`` (this
    process's user by default)."""

    def __init__(
        self, root: Path | str | None = None, *, annotator: Annotator | None = None
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_workspace_root()
        self.annotator = annotator or Annotator.current()
        self.datasets_dir = self.root / "datasets"
        self.projects_dir = self.root / "projects"

    def ensure(self) -> Workspace:
        """Create the workspace folders if missing."""
        self.datasets_dir.mkdir(parents=True, exist_ok=True)
        self.projects_dir.mkdir(parents=True, exist_ok=True)
        return self

    # datasets -----------------------------------------------------------
    def list_datasets(self) -> list[str]:
        """Names of the dataset folders, sorted."""
        if not self.datasets_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.datasets_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def dataset_dir(self, name: str) -> Path:
        """The folder of dataset ``name`` (a workspace name, or an absolute folder)."""
        if Path(name).is_absolute() and "\x00" not in name:
            return Path(name)
        return child_path(self.datasets_dir, name, what="dataset name")

    def dataset_images(self, name: str) -> list[Path]:
        """The items of a dataset, sorted by name: image files (a multi-page TIFF is a
        stack) and subfolders of numbered slices (stacks)."""
        folder = self.dataset_dir(name)
        if not folder.is_dir():
            raise WorkspaceError(f"no dataset {name!r} (looked in {folder})")
        images, skipped = list_items(folder)
        for path, why in skipped:
            logger.debug("dataset %s: skipped %s (%s)", name, path.name, why)
        return images

    # projects -----------------------------------------------------------
    def project_dir(self, name: str) -> Path:
        """The folder of project ``name``."""
        return child_path(self.projects_dir, name, what="project name")

    def list_projects(self) -> list[ProjectSummary]:
        """Every project folder with a project.json; unreadable ones carry ``error``."""
        if not self.projects_dir.is_dir():
            return []
        summaries = []
        for folder in sorted(self.projects_dir.iterdir()):
            config_path = folder / PROJECT_FILE_NAME
            if folder.name.startswith(".") or not config_path.is_file():
                continue
            summaries.append(self._summary(folder, config_path))
        return summaries

    def _summary(self, folder: Path, config_path: Path) -> ProjectSummary:
        try:
            config = load_config(config_path)
        except WorkspaceError as exc:
            return ProjectSummary(name=folder.name, path=folder, error=str(exc))
        root = Path(config.location) if config.location else folder
        project = Project(config_path, config, root=root, dataset_dir=root)
        return ProjectSummary(
            name=folder.name,
            path=folder,
            named=config.name if config.name != folder.name else None,
            dataset=config.dataset,
            n_images=len(config.images),
            n_annotated=len(project.annotated()),
            n_models=len(project.models()),
            locked_by=exclusive_holder(root),
        )

    def create_project(
        self,
        name: str,
        dataset: str,
        *,
        classes: tuple[str, ...] = DEFAULT_CLASSES,
        colours: dict[str, str] | None = None,
        start_model: str | None = None,
        settings: ProjectSettings | None = None,
        seed: int | None = None,
    ) -> Project:
        """Create a project over a workspace dataset and open it (writable).

        The image order is fixed here: the dataset's images, sorted then shuffled with
        ``seed`` (random when None; stored either way). ``start_model`` may be a model
        file or a starter model (``starter:roots``), copied in as model 1, or any name the
        caller resolves later. ``classes``
        names background first (at most 10); ``colours`` maps foreground classes to
        ``#rrggbb`` (None: the defaults, and no ``colours`` key in project.json).
        """
        folder = self.project_dir(name)
        validate_name(dataset, what="dataset name")
        classes = validate_classes(tuple(classes))
        colours = None if colours is None else validate_colours(colours, classes)
        if (folder / PROJECT_FILE_NAME).exists():
            raise WorkspaceError(f"project {name!r} already exists in {self.projects_dir}")
        images = [p.name for p in self.dataset_images(dataset)]
        if not images:
            raise WorkspaceError(f"dataset {dataset!r} has no images")
        for image in images:  # a name project.json could not hold would make it corrupt
            validate_name(image, what=f"dataset {dataset!r} holds an image whose name")
        seed = secrets.randbits(SEED_BITS) if seed is None else seed
        config = ProjectConfig(
            name=name,
            dataset=dataset,
            images=shuffled_order(images, seed),
            classes=classes,
            colours=colours,
            start_model=start_model,
            settings=settings or ProjectSettings(),
            seed=seed,
        )
        folder.mkdir(parents=True, exist_ok=True)
        model = start_model_source(start_model)
        if model is not None:
            target = folder / "models" / model_file_name(1, time.time(), suffix=model.suffix)
            write_bytes_atomic(target, model.read_bytes())
        save_config(folder / PROJECT_FILE_NAME, config)
        return self.open_project(name)

    def open_project(
        self, name: str, *, read_only: bool = False, dataset_dir: Path | None = None
    ) -> Project:
        """Open a project; read-only when asked, or when it cannot be written (see
        :func:`rptui.store.opening.open_project_at`)."""
        folder = self.project_dir(name)
        config_path = folder / PROJECT_FILE_NAME
        if not config_path.is_file():
            raise WorkspaceError(f"no project {name!r} in {self.projects_dir}")
        config = load_config(config_path)
        root = Path(config.location) if config.location else folder
        dataset_folder = dataset_dir or self.dataset_dir(config.dataset)
        return open_project_at(
            config_path,
            config,
            root,
            dataset_folder,
            read_only=read_only,
            annotator=self.annotator,
        )

    def import_rootpainter(self, seg_proj_path: Path | str, *, name: str | None = None) -> Project:
        """Register a RootPainter project (its .seg_proj) here and open it."""
        return import_rootpainter(self.projects_dir, Path(seg_proj_path), name=name)
