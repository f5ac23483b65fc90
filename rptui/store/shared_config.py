"""project.json shared by several apps: every write is a read-modify-write under a brief lock.

Each app keeps the project's config in memory; another app may have written the file
since. So a write never puts the memory's copy over the file: under a lock on
``.project.json.lock`` beside it (held for the milliseconds of the read and the write,
:mod:`rptui.store.brief_lock`) the file is read, the change is made to what was read,
and the result written atomically. The shared records only grow: an image's split
(the first one recorded wins: an image never changes split), the reviewed and served
images and who annotated what (``annotated_by``) are merged, never replaced. What
belongs to the app that writes (the settings and the position) is its own; the pinned
model changes only by :meth:`SharedConfig.update` (``rptui models --pin``). After each
write the app's copy takes in what the others recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rptui.store.brief_lock import held_briefly
from rptui.store.project_config import ProjectConfig, load_config, save_config

T = TypeVar("T")
LOCK_FILE_NAME = ".project.json.lock"


def merge_own(disk: ProjectConfig, mine: ProjectConfig) -> None:
    """Put into ``disk`` what ``mine`` holds: its settings and position, and its shared
    records that ``disk`` lacks."""
    disk.settings = mine.settings
    disk.position = mine.position
    for stem, split in mine.splits.items():
        disk.splits.setdefault(stem, split)
    disk.reviewed |= mine.reviewed
    served = set(disk.served)
    disk.served.extend(stem for stem in mine.served if stem not in served)
    for stem, records in mine.annotated_by.items():
        held = disk.annotated_by.setdefault(stem, [])
        held.extend(record for record in records if record not in held)
        held.sort(key=lambda record: float(record["time"]))


def take_in(mine: ProjectConfig, disk: ProjectConfig) -> None:
    """Make ``mine``'s shared records those of ``disk`` (in place: others hold them)."""
    mine.splits.clear()
    mine.splits.update(disk.splits)
    mine.reviewed.clear()
    mine.reviewed.update(disk.reviewed)
    mine.served[:] = disk.served
    mine.annotated_by.clear()
    mine.annotated_by.update(disk.annotated_by)
    mine.pinned_model = disk.pinned_model


class SharedConfig:
    """Reads and writes the project.json at ``path`` for an app holding ``config``."""

    def __init__(self, path: Path, config: ProjectConfig) -> None:
        self.path = Path(path)
        self.config = config

    @property
    def lock_path(self) -> Path:
        """The lock file beside project.json."""
        return self.path.with_name(LOCK_FILE_NAME)

    def update(self, change: Callable[[ProjectConfig], T]) -> T:
        """Apply ``change`` to the file's config and to this app's, atomically for the file;
        returns what ``change`` returned on the file's config."""
        with held_briefly(self.lock_path):
            disk = load_config(self.path)
            merge_own(disk, self.config)
            result = change(disk)
            save_config(self.path, disk)
        take_in(self.config, disk)
        return result

    def save(self) -> None:
        """Write this app's settings and position, and its records the file lacks."""
        self.update(lambda _disk: None)

    def reload(self) -> None:
        """Take in what other apps recorded since, keeping this app's records (a read
        only: writes are atomic)."""
        disk = load_config(self.path)
        merge_own(disk, self.config)
        take_in(self.config, disk)
