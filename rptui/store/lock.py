"""A whole-project lock file holding host, pid and time (what rptui took before leases).

A project is no longer held whole: apps lease images (:mod:`rptui.store.leases`). The
lock stays for an rptui from before leases, which still takes it and writes
``project.json`` whole: while its holder lives, a project opens read-only
(:mod:`rptui.store.opening`). Its stale-holder rules are the leases' too.

The lock file is made complete in a temporary file and then hard-linked into place,
which fails atomically when a lock already exists, so a reader never sees a half
written lock. A lock is stale when its holder is gone:

- same host: the pid is not alive, or it is alive but started after the lock was
  taken (the pid was reused);
- another host: the heartbeat (``time`` refreshed by :meth:`ProjectLock.refresh`) is
  older than ``stale_after`` seconds;
- unreadable: the file is not valid lock JSON and is older than a few seconds.

A stale lock is taken over under an advisory lock on the lock's folder, so two
sessions racing for the same stale lock cannot both win. A live lock raises
:class:`LockHeld`, whose ``info`` tells the user who holds it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cluster.io.atomic import json_bytes, new_file_mode, write_bytes_atomic
from cluster.io.processes import pid_alive
from rptui.store.paths import WorkspaceError

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = ".rptui.lock"
# A lock from another host whose heartbeat is older than this is taken over.
STALE_AFTER_SECONDS = 3600.0
# A lock file that does not parse and is older than this is a crashed writer's.
UNREADABLE_GRACE_SECONDS = 5.0
# Slack between a process's start time and the lock time (clock ticks, rounding).
_START_TIME_SLACK_SECONDS = 2.0


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: host name, process id, when taken, last heartbeat."""

    host: str
    pid: int
    since: float
    heartbeat: float
    token: str = ""

    def describe(self) -> str:
        """A sentence for the user, e.g. 'locked by pid 123 on host x since 10:42'."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since))
        return f"locked by pid {self.pid} on host {self.host} since {when}"

    def to_json(self) -> dict[str, object]:
        """The lock file's JSON object."""
        return {
            "host": self.host,
            "pid": self.pid,
            "time": self.since,
            "heartbeat": self.heartbeat,
            "token": self.token,
        }

    @classmethod
    def from_json(cls, obj: object) -> LockInfo:
        """Parse a lock file's JSON object; ValueError when it is not one."""
        if not isinstance(obj, dict):
            raise ValueError("lock file is not a JSON object")
        try:
            since = float(obj["time"])
            return cls(
                host=str(obj["host"]),
                pid=int(obj["pid"]),
                since=since,
                heartbeat=float(obj.get("heartbeat", since)),
                token=str(obj.get("token", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"lock file lacks host/pid/time: {exc}") from exc


class LockHeld(WorkspaceError):
    """The project is locked by another live session."""

    def __init__(self, path: Path, info: LockInfo | None) -> None:
        self.path = Path(path)
        self.info = info
        who = info.describe() if info else "locked by a session that is still writing its lock"
        super().__init__(f"{self.path.parent.name}: {who}")


def process_start_time(pid: int) -> float | None:
    """Unix time a local process started (Linux /proc), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    boot_time = time.time() - uptime
    return boot_time + ticks / os.sysconf("SC_CLK_TCK")


def process_gone(pid: int, since: float) -> bool:
    """Whether process ``pid`` of this host, which took something at ``since``, is gone:
    it is not alive, or its pid was reused by a process started after ``since``."""
    if not pid_alive(pid):
        return True
    started = process_start_time(pid)
    return started is not None and started > since + _START_TIME_SLACK_SECONDS


def link_new_file(path: Path, data: bytes, mode: int, *, durable: bool = False) -> bool:
    """Create the file ``path`` holding ``data`` (permissions ``mode``), never half written:
    it is made complete in a temporary file beside it, then hard-linked into place, which
    fails atomically when ``path`` exists (then False). ``durable``: synced before linking.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def is_stale(info: LockInfo, *, stale_after: float = STALE_AFTER_SECONDS) -> bool:
    """Whether the holder of ``info`` is gone (see the module docstring)."""
    if info.host == socket.gethostname():
        return process_gone(info.pid, info.since)
    return time.time() - info.heartbeat > stale_after


def read_lock(path: Path) -> LockInfo | None:
    """The lock at ``path``; None when absent. ValueError when unreadable."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"lock file cannot be read: {exc}") from exc
    try:
        return LockInfo.from_json(json.loads(data))
    except json.JSONDecodeError as exc:
        raise ValueError(f"lock file is not JSON: {exc}") from exc


@contextlib.contextmanager
def _folder_guard(folder: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``folder`` (best effort)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


class ProjectLock:
    """An exclusive lock on a project folder; a context manager.

    Args:
        folder: the folder to lock; the lock file is ``folder / LOCK_FILE_NAME``.
        stale_after: seconds after which another host's unrefreshed lock is stale.
    """

    def __init__(self, folder: Path, *, stale_after: float = STALE_AFTER_SECONDS) -> None:
        self.path = Path(folder) / LOCK_FILE_NAME
        self.stale_after = stale_after
        self._info: LockInfo | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._info is not None

    @property
    def info(self) -> LockInfo | None:
        """Our lock's details while held."""
        return self._info

    def _new_info(self) -> LockInfo:
        now = time.time()
        return LockInfo(
            host=socket.gethostname(),
            pid=os.getpid(),
            since=now,
            heartbeat=now,
            token=secrets.token_hex(8),
        )

    def _link_into_place(self, info: LockInfo) -> bool:
        """Create the lock file with ``info``; False when one already exists."""
        data = json_bytes(info.to_json())
        return link_new_file(self.path, data, new_file_mode(self.path), durable=True)

    def _is_takeable(self) -> tuple[bool, LockInfo | None]:
        """Whether the existing lock may be removed, and what it holds."""
        try:
            current = read_lock(self.path)
        except ValueError:
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return True, None
            return age > UNREADABLE_GRACE_SECONDS, None
        if current is None:
            return True, None
        return is_stale(current, stale_after=self.stale_after), current

    def acquire(self) -> LockInfo:
        """Take the lock, taking over a stale one. Raises LockHeld if it is live."""
        if self.held:
            raise WorkspaceError(f"{self.path} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        info = self._new_info()
        if self._link_into_place(info):
            self._info = info
            return info
        with _folder_guard(self.path.parent):
            takeable, current = self._is_takeable()
            if not takeable:
                raise LockHeld(self.path, current)
            if current is not None:
                logger.warning("taking over stale lock %s (%s)", self.path, current.describe())
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            if not self._link_into_place(info):
                raise LockHeld(self.path, self._peek())
        self._info = info
        return info

    def _peek(self) -> LockInfo | None:
        try:
            return read_lock(self.path)
        except ValueError:
            return None

    def holder(self) -> LockInfo | None:
        """Who holds the lock now (None when free or unreadable)."""
        return self._peek()

    def still_ours(self) -> bool:
        """Whether the file on disk is still our lock (not taken over)."""
        current = self._peek()
        return self._info is not None and current is not None and current.token == self._info.token

    def refresh(self) -> None:
        """Renew the heartbeat so other hosts do not think the lock stale."""
        if self._info is None:
            raise WorkspaceError(f"cannot refresh {self.path}: not held")
        if not self.still_ours():
            self._info = None
            raise WorkspaceError(f"lost the lock {self.path}: another session took it over")
        info = dataclasses.replace(self._info, heartbeat=time.time())
        write_bytes_atomic(self.path, json_bytes(info.to_json()))
        self._info = info

    def release(self) -> None:
        """Remove the lock file if it is still ours; safe to call twice."""
        if self._info is None:
            return
        with _folder_guard(self.path.parent):
            if self.still_ours():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
            else:
                logger.warning("lock %s was taken over; leaving it", self.path)
        self._info = None

    def __enter__(self) -> ProjectLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
