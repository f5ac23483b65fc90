"""RootPainter projects: open a ``.seg_proj`` and go on annotating it.

RootPainter keeps everything in a sync folder::

    <sync>/datasets/<dataset>/                 images
    <sync>/projects/<name>/<name>.seg_proj     JSON: name, dataset, original_model_file,
                                               location ("projects/<name>"), file_names
    <sync>/projects/<name>/annotations/{train,val}/<stem>.png, segmentations/,
                           models/NNNNNN_<unix>.pkl, messages/, logs/

``dataset`` is the dataset folder's name under ``<sync>/datasets``; ``file_names`` is the
image order (sorted, then shuffled once at creation).

Importing registers the project in our workspace without copying or changing it:
``<workspace>/projects/<name>/project.json`` records the RootPainter folder as the
project's ``location`` and the dataset's absolute folder as its ``dataset``. The
annotations, segmentations and models stay where RootPainter keeps them, in
RootPainter's formats, so RootPainter can still open the project; the ``.seg_proj`` is
never written. The project's lock file (``.rptui.lock``) is made in the RootPainter
folder, so two workspaces importing the same project still have one writer. Splits are
read from the folders each annotation is in.

The folder of the ``.seg_proj`` is trusted as the project's folder (its ``location`` is
only checked); the dataset and image names must not escape the sync folder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rptui.store.opening import open_project_at
from rptui.store.paths import (
    CorruptProjectError,
    WorkspaceError,
    child_path,
    safe_relative_path,
    validate_name,
)
from rptui.store.project import Project
from rptui.store.project_config import PROJECT_FILE_NAME, ProjectConfig, load_config, save_config

logger = logging.getLogger(__name__)

SEG_PROJ_SUFFIX = ".seg_proj"
RANDOM_WEIGHTS = "random weights"  # RootPainter's original_model_file for no model
_REQUIRED_KEYS = ("name", "dataset", "file_names")


@dataclass(frozen=True)
class RootPainterProject:
    """A parsed ``.seg_proj`` and the folders it points at."""

    seg_proj: Path
    name: str
    dataset: str
    original_model_file: str | None
    location: str | None
    file_names: list[str]

    @property
    def project_dir(self) -> Path:
        """The folder holding the .seg_proj and the project's data."""
        return self.seg_proj.parent

    @property
    def sync_dir(self) -> Path:
        """RootPainter's sync folder (``<sync>/projects/<name>/<name>.seg_proj``)."""
        return self.seg_proj.parent.parent.parent

    @property
    def dataset_dir(self) -> Path:
        """``<sync>/datasets/<dataset>``."""
        return self.sync_dir / "datasets" / safe_relative_path(self.dataset, what="dataset")


def read_seg_proj(path: Path | str) -> RootPainterProject:
    """Parse a RootPainter ``.seg_proj``; CorruptProjectError naming it when invalid."""
    path = Path(path).resolve()
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise WorkspaceError(f"no RootPainter project file at {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptProjectError(path, f"not a readable JSON file: {exc}") from exc
    if not isinstance(obj, dict):
        raise CorruptProjectError(path, "not a JSON object")
    missing = [key for key in _REQUIRED_KEYS if key not in obj]
    if missing:
        raise CorruptProjectError(path, f"missing key(s) {', '.join(missing)}")
    try:
        name = validate_name(obj["name"], what="project name")
        safe_relative_path(obj["dataset"], what="dataset")
        if not isinstance(obj["file_names"], list):
            raise WorkspaceError("file_names is not a list")
        file_names = [validate_name(n, what="image file name") for n in obj["file_names"]]
    except WorkspaceError as exc:
        raise CorruptProjectError(path, str(exc)) from exc
    model = obj.get("original_model_file")
    location = obj.get("location")
    project = RootPainterProject(
        seg_proj=path,
        name=name,
        dataset=obj["dataset"],
        original_model_file=model if isinstance(model, str) and model != RANDOM_WEIGHTS else None,
        location=location if isinstance(location, str) else None,
        file_names=file_names,
    )
    expected = PurePosixPath("projects", path.parent.name)
    if project.location and PurePosixPath(project.location) != expected:
        logger.warning(
            "%s: location %r does not match its folder; using the folder", path, project.location
        )
    return project


def config_from_seg_proj(project: RootPainterProject, *, name: str) -> ProjectConfig:
    """Our project.json for a RootPainter project (data stays in its folder)."""
    return ProjectConfig(
        name=name,
        dataset=str(project.dataset_dir),
        images=list(project.file_names),
        start_model=project.original_model_file,
        location=str(project.project_dir),
        rootpainter_file=str(project.seg_proj),
    )


def import_rootpainter(
    projects_dir: Path, seg_proj_path: Path, *, name: str | None = None
) -> Project:
    """Register the RootPainter project in a workspace's ``projects_dir`` (once); open it.

    Importing the same ``.seg_proj`` again opens the registered project; a different
    project with the same name is an error (pass ``name`` to choose another).
    """
    rp = read_seg_proj(seg_proj_path)
    if not rp.dataset_dir.is_dir():
        raise WorkspaceError(
            f"{rp.seg_proj}: its dataset {rp.dataset!r} is not at {rp.dataset_dir}"
        )
    our_name = validate_name(name or rp.name, what="project name")
    folder = child_path(projects_dir, our_name, what="project name")
    config_path = folder / PROJECT_FILE_NAME
    if config_path.exists():
        config = load_config(config_path)
        if config.rootpainter_file != str(rp.seg_proj):
            raise WorkspaceError(
                f"a project named {our_name!r} already exists; import under another name"
            )
    else:
        config = config_from_seg_proj(rp, name=our_name)
        save_config(config_path, config)
        logger.info("imported RootPainter project %s as %s", rp.seg_proj, our_name)
    return open_project_at(config_path, config, rp.project_dir, rp.dataset_dir)
