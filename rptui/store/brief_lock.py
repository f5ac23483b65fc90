"""A lock held for milliseconds around a read-modify-write, and the project's state folder.

:func:`held_briefly` takes an exclusive ``fcntl.flock`` on a lock file for the length of
a ``with`` block: two processes updating ``project.json`` (or taking over a lease) at
once take turns instead of losing each other's changes. The lock goes with the file
descriptor, so a killed holder frees it at once. Lock files, the state folder and the
lease files in it get the permissions the project's own files get (group-writable when
the umask allows, for a group sharing a project), never world-writable.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from cluster.io.atomic import new_file_mode
from rptui.store.paths import WorkspaceError

STATE_DIR_NAME = ".rptui"  # in the project's data folder: leases and their lock
WAIT_SECONDS = 10.0  # no read-modify-write takes this long: a holder this slow is stuck
_POLL_SECONDS = 0.002
NOT_WORLD_WRITABLE = ~0o002


def shared_file_mode(path: Path) -> int:
    """The mode a new state or lock file at ``path`` gets: a project file's, never o+w."""
    return new_file_mode(path) & NOT_WORLD_WRITABLE


def ensure_state_dir(root: Path) -> Path:
    """The project's state folder ``<root>/.rptui``, made if missing (not world-writable)."""
    folder = Path(root) / STATE_DIR_NAME
    if not folder.is_dir():
        folder.mkdir(mode=0o777 & NOT_WORLD_WRITABLE, parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def held_briefly(path: Path, *, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if missing) for a ``with`` block.

    Raises:
        WorkspaceError: the lock file cannot be opened, or another process held the lock
            for longer than ``wait`` seconds.
    """
    path = Path(path)
    flags = os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, shared_file_mode(path))
    except OSError as error:
        raise WorkspaceError(f"cannot open the lock file {path}: {error.strerror}") from error
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise WorkspaceError(f"cannot lock {path}: {error.strerror}") from error
            if time.monotonic() > deadline:
                raise WorkspaceError(f"{path} stayed locked by another process for {wait:.0f} s")
            time.sleep(_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing releases the lock
