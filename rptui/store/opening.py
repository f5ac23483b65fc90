"""Opening a project whose files are found: its lock taken, folders recreated, splits tidied.

Opening takes the project's lock; when another live session holds it, the project opens
read-only and says who holds it. Missing folders are recreated and leftovers of killed
writers are removed when a project opens writable.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cluster.io.atomic import remove_stale_temp_files
from rptui.store.lock import LockHeld, LockInfo, ProjectLock
from rptui.store.project import Project
from rptui.store.project_config import ProjectConfig

logger = logging.getLogger(__name__)


def _reconcile_splits(project: Project) -> bool:
    """Record annotations found on disk in ``config.splits``; True when it changed."""
    changed = False
    for stem, split in project.annotated().items():
        known = project.config.splits.get(stem)
        if known is None or (known != split and not project.annotation_path(stem, known).is_file()):
            project.config.splits[stem] = split
            changed = True
    return changed


def open_project_at(
    config_path: Path,
    config: ProjectConfig,
    root: Path,
    dataset_dir: Path,
    *,
    read_only: bool = False,
) -> Project:
    """Open the project whose data lives in ``root``: lock, recreate folders, tidy."""
    lock: ProjectLock | None = None
    reason: str | None = "opened read-only" if read_only else None
    holder: LockInfo | None = None
    if not read_only:
        candidate = ProjectLock(root)
        try:
            candidate.acquire()
            lock = candidate
        except LockHeld as exc:
            holder = exc.info
            reason = str(exc)
        except PermissionError as exc:
            reason = f"cannot write in {root}: {exc.strerror}"
    project = Project(
        config_path,
        config,
        root=root,
        dataset_dir=dataset_dir,
        lock=lock,
        read_only_reason=reason,
        lock_info=holder,
    )
    if reason is not None and not read_only:
        logger.warning("project %s opened read-only: %s", config.name, reason)
    for problem in config.settings.problems:
        logger.warning("%s: %s", config_path, problem)
    if lock is not None:
        try:
            for folder in project.folders:
                folder.mkdir(parents=True, exist_ok=True)
                remove_stale_temp_files(folder)
            remove_stale_temp_files(config_path.parent)
            if _reconcile_splits(project):
                project.save_config()
        except BaseException:
            project.close()
            raise
    else:
        _reconcile_splits(project)
    return project
