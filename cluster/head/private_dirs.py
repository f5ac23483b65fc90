"""Folders private to this user inside the shared temp dir, checked before every use.

Ray's temp dir holds the raylet's sockets and the session logs, and Ray opens it to
everyone (0777); its path is predictable. So it lives in ``<tmp>/rptui-<uid>/``, made
with mode 0700 and checked with ``lstat`` before every start and every connection (a
real folder, not a link, owned by this user, closed to others): another account on a
shared machine cannot plant it beforehand, list it, read the logs or swap a socket.
Anything else is refused in one line naming the folder and its owner.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import tempfile
from pathlib import Path

PREFIX = "rptui-"
PRIVATE_MODE = 0o700
OTHERS_BITS = 0o077  # group and world permission bits


class UnsafeTempDirError(RuntimeError):
    """Ray's temp dir is not private to this user; the message names the folder and why."""


def private_parent() -> Path:
    """The folder of this user's temp folders, private to them: ``<tmp>/rptui-<uid>``."""
    return Path(tempfile.gettempdir()) / f"{PREFIX}{os.getuid()}"


def owner_name(uid: int) -> str:
    """The account name of ``uid`` (``uid N`` when it has none)."""
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _refuse(path: Path, reason: str) -> UnsafeTempDirError:
    return UnsafeTempDirError(
        f"refusing Ray's temp folder {path}: {reason}; remove it (or set TMPDIR to a "
        "folder of your own) and try again"
    )


def _check_ours(path: Path, *, private: bool) -> None:
    """Raise :class:`UnsafeTempDirError` unless ``path`` is a real folder owned by this
    user (and, when ``private``, closed to everyone else)."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(path, f"it is a symbolic link, owned by {owner_name(info.st_uid)}")
    if not stat.S_ISDIR(info.st_mode):
        raise _refuse(path, f"it is not a folder, owned by {owner_name(info.st_uid)}")
    if info.st_uid != os.getuid():
        raise _refuse(path, f"it is owned by {owner_name(info.st_uid)}, not by you")
    if private and stat.S_IMODE(info.st_mode) & OTHERS_BITS:
        mode = stat.S_IMODE(info.st_mode)
        raise _refuse(path, f"other users can enter it (mode {mode:o}, owned by you)")


def make_private_child(name: str) -> Path:
    """``private_parent() / name``, made if missing, with the parent checked to be private.

    Raises:
        UnsafeTempDirError: the parent (or the child) is a link, not a folder, someone
            else's, or (the parent) open to other users.
    """
    parent = private_parent()
    child = parent / name
    for path in (parent, child):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=PRIVATE_MODE)
        _check_ours(path, private=path == parent)
    return child


def check_private_child(path: Path) -> None:
    """Before using a folder made by :func:`make_private_child` (a running head's temp dir):
    it is ours, in our private parent. Ray opens the child to everyone; the parent keeps
    it closed.

    Raises:
        UnsafeTempDirError: it is not, or it lies elsewhere (a head started another way).
    """
    parent = private_parent()
    if path.parent != parent:
        raise UnsafeTempDirError(
            f"the embedded Ray uses the temp folder {path}, outside the private folder "
            f"{parent}: stop it (rptui stop) and start it again"
        )
    _check_ours(parent, private=True)
    _check_ours(path, private=False)
