"""Opening a project whose files are found: folders recreated, splits tidied, leases ready.

Several apps may open one project for writing at once: each takes a lease on the image
it shows (:mod:`rptui.store.leases`) and writes project.json by read-modify-write under
a brief lock (:mod:`rptui.store.shared_config`). A project opens read-only when asked,
when its folder cannot be written, or when an rptui from before leases holds the
project's whole-project lock (``.rptui.lock``: it would overwrite the others' records).
Missing folders are recreated and leftovers of killed writers (older than a minute, so
never another app's write in flight) are removed when a project opens writable.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cluster.io.atomic import remove_stale_temp_files
from rptui.store.annotator import Annotator
from rptui.store.leases import ImageLeases
from rptui.store.lock import LOCK_FILE_NAME, LockHeld, LockInfo, ProjectLock, is_stale
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


def exclusive_holder(root: Path) -> LockInfo | None:
    """The live holder of the whole-project lock an rptui from before leases takes, if any."""
    holder = ProjectLock(root).holder()
    return holder if holder is not None and not is_stale(holder) else None


def open_project_at(
    config_path: Path,
    config: ProjectConfig,
    root: Path,
    dataset_dir: Path,
    *,
    read_only: bool = False,
    annotator: Annotator | None = None,
) -> Project:
    """Open the project whose data lives in ``root``: recreate folders, tidy, lease."""
    reason: str | None = "opened read-only" if read_only else None
    holder: LockInfo | None = None
    leases: ImageLeases | None = None
    annotator = annotator or Annotator.current()
    if not read_only:
        holder = exclusive_holder(root)
        if holder is not None:
            reason = str(LockHeld(root / LOCK_FILE_NAME, holder))
        else:
            try:
                leases = ImageLeases(root, annotator)
            except OSError as exc:
                reason = f"cannot write in {root}: {exc.strerror}"
    project = Project(
        config_path,
        config,
        root=root,
        dataset_dir=dataset_dir,
        writable=leases is not None,
        read_only_reason=reason,
        lock_info=holder,
        annotator=annotator,
        leases=leases,
    )
    if reason is not None and not read_only:
        logger.warning("project %s opened read-only: %s", config.name, reason)
    for problem in config.settings.problems:
        logger.warning("%s: %s", config_path, problem)
    if leases is not None:
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
