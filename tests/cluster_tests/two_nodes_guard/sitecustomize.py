"""A file-access guard for every Python process of a test's worker node.

Put on ``PYTHONPATH`` of that node's ``ray start``, so its raylet's workers import it at
start-up. Each process records its pid, working directory and ``HOME`` in the log, and
an audit hook refuses (``PermissionError``) and records every open, listing, removal or
rename of a path under ``RPTUI_GUARD_ROOTS`` (``os.pathsep``-separated): the test fails
on any line of that kind.
"""

from __future__ import annotations

import os
import sys
from typing import Any

ROOTS_ENV = "RPTUI_GUARD_ROOTS"
LOG_ENV = "RPTUI_GUARD_LOG"
EVENTS = {
    "open",
    "os.listdir",
    "os.scandir",
    "os.chdir",
    "os.mkdir",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.truncate",
    "os.utime",
    "os.chmod",
    "os.link",
    "os.symlink",
    "glob.glob",
    "shutil.copyfile",
    "shutil.rmtree",
}


def _record(log: str, line: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode())
    finally:
        os.close(fd)


def _path(value: Any) -> str | None:
    if isinstance(value, int) or value is None:
        return None
    try:
        text = os.fsdecode(os.fspath(value))
    except TypeError:
        return None
    return os.path.abspath(text)


def install(roots: list[str], log: str) -> None:
    """Record this process, then guard it."""
    _record(log, f"start {os.getpid()} cwd={os.getcwd()} home={os.environ.get('HOME')}")
    busy = False

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal busy
        if event not in EVENTS or busy or not args:
            return
        for value in args[:2]:
            path = _path(value)
            if path is None or not any(path == r or path.startswith(r + os.sep) for r in roots):
                continue
            busy = True
            try:
                _record(log, f"access {os.getpid()} {event} {path}")
            finally:
                busy = False
            raise PermissionError(f"the worker node may not touch {path}")

    sys.addaudithook(hook)


_roots = [os.path.abspath(r) for r in os.environ.get(ROOTS_ENV, "").split(os.pathsep) if r]
_log = os.environ.get(LOG_ENV)
if _roots and _log:
    install(_roots, _log)
