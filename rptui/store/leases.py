"""Per-image leases: the image an app shows is its own until it moves on, dies or goes quiet.

Several apps may annotate one project at once (docs/workspace.md). Each holds a lease on
the image it shows: a file ``<root>/.rptui/leases/<stem>.lease`` holding the annotator,
host, process id, when it was taken and when it expires. The serve order never hands
an image leased by another app to this one. A lease is free when it has expired, when
its process is gone (same host: the pid is dead, or was reused after the lease was
taken), or when its file is not a valid lease (one log line, never an error). The
holder renews it while it shows the image (:meth:`ImageLeases.renew`); a killed app's
lease frees at once on its host, and after ``ttl`` seconds anywhere.

A lease file is made complete in a temporary file and hard-linked into place, which
fails atomically when a lease exists (the O_EXCL of a whole file); renewing replaces it
by rename. Taking over a free lease, and renewing, happen under a brief lock
(:mod:`rptui.store.brief_lock`) so two apps racing for one image cannot both win.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from cluster.io.atomic import json_bytes, write_bytes_atomic
from rptui.store.annotator import Annotator, clean_annotator
from rptui.store.brief_lock import (
    NOT_WORLD_WRITABLE,
    ensure_state_dir,
    held_briefly,
    shared_file_mode,
)
from rptui.store.lock import link_new_file, process_gone
from rptui.store.paths import WorkspaceError, validate_name

log = logging.getLogger(__name__)

LEASES_DIR_NAME = "leases"
LEASE_SUFFIX = ".lease"
GUARD_FILE_NAME = ".guard"
LEASE_SECONDS = 120.0  # a lease not renewed for this long is free
RENEW_EVERY_SECONDS = 30.0  # how often the holder renews (well inside LEASE_SECONDS)
MAX_LEASE_BYTES = 4096
_MAX_NAME_IN_FILE = 200  # longer stems are leased under their hash


@dataclass(frozen=True)
class LeaseInfo:
    """One image's lease: who holds it, where, since and until when."""

    stem: str
    annotator: str  # the label shown to others, e.g. "Ana (ana)"
    host: str
    pid: int
    since: float
    expires: float
    token: str

    def to_json(self) -> dict[str, object]:
        """The lease file's JSON object (its fields by name)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: object) -> LeaseInfo:
        """Parse and check a lease file's object; ValueError naming what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        try:
            stem, annotator, host, token = (obj[k] for k in ("stem", "annotator", "host", "token"))
            pid, since, expires = obj["pid"], obj["since"], obj["expires"]
        except KeyError as exc:
            raise ValueError(f"lacks {exc}") from None
        if not all(isinstance(text, str) for text in (stem, annotator, host, token)):
            raise ValueError("stem, annotator, host and token must be strings")
        if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 2**32:
            raise ValueError(f"bad pid {pid!r}")
        times = (since, expires)
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in times):
            raise ValueError("since and expires must be numbers")
        if not all(math.isfinite(t) for t in times):
            raise ValueError("since and expires must be finite")
        if len(host) > 255 or len(token) > 64 or not host.isprintable():
            raise ValueError("bad host or token")
        try:
            validate_name(stem, what="leased image")
            label = clean_annotator(annotator, what="annotator")
        except WorkspaceError as exc:
            raise ValueError(str(exc)) from None
        return cls(stem, label, host, pid, float(since), float(expires), token)

    def describe(self) -> str:
        """A phrase for the user, e.g. 'Ana (ana) on host x'."""
        return f"{self.annotator} on host {self.host}"


def lease_file_name(stem: str) -> str:
    """The lease file of image ``stem`` (long stems under their hash)."""
    validate_name(stem, what="image stem")
    if len(stem.encode()) > _MAX_NAME_IN_FILE:
        stem = hashlib.sha256(stem.encode()).hexdigest()
    return stem + LEASE_SUFFIX


def is_free(info: LeaseInfo | None, *, now: float | None = None) -> bool:
    """Whether a lease may be taken: none, expired, or its process gone from this host."""
    if info is None:
        return True
    if (time.time() if now is None else now) > info.expires:
        return True
    return info.host == socket.gethostname() and process_gone(info.pid, info.since)


def read_lease(path: Path) -> LeaseInfo | None:
    """The lease at ``path``; None when absent or not a valid lease (logged once per read)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_LEASE_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring the unreadable lease %s: %s", path, exc.strerror)
        return None
    try:
        if len(data) > MAX_LEASE_BYTES:
            raise ValueError("too large")
        return LeaseInfo.from_json(json.loads(data))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        log.warning("ignoring the invalid lease %s: %s", path, exc)
        return None


class ImageLeases:
    """The leases this app holds on a project's images (kept in ``root``'s state folder).

    Args:
        root: the project's data folder.
        annotator: who this app's user is (shown to the others).
        ttl: seconds a lease lives without being renewed.
    """

    def __init__(self, root: Path, annotator: Annotator, *, ttl: float = LEASE_SECONDS) -> None:
        self.folder = ensure_state_dir(root) / LEASES_DIR_NAME
        self.folder.mkdir(mode=0o777 & NOT_WORLD_WRITABLE, exist_ok=True)
        self.annotator = annotator
        self.ttl = ttl
        self._held: dict[str, LeaseInfo] = {}
        self._renewed = 0.0

    def path(self, stem: str) -> Path:
        """The lease file of ``stem``."""
        return self.folder / lease_file_name(stem)

    def _new(self, stem: str) -> LeaseInfo:
        now = time.time()
        return LeaseInfo(
            stem=stem,
            annotator=self.annotator.label,
            host=socket.gethostname(),
            pid=os.getpid(),
            since=now,
            expires=now + self.ttl,
            token=secrets.token_hex(8),
        )

    def _link_into_place(self, info: LeaseInfo) -> bool:
        """Create the lease file holding ``info``; False when one exists already."""
        path = self.path(info.stem)
        return link_new_file(path, json_bytes(info.to_json()), shared_file_mode(path))

    def holder(self, stem: str) -> LeaseInfo | None:
        """The live lease on ``stem`` of another app; None when free or ours."""
        if stem in self._held:
            return None
        info = read_lease(self.path(stem))
        if info is None or is_free(info) or info.stem != stem:
            return None
        return info

    def leased_by_others(self, stems: list[str]) -> set[str]:
        """Which of ``stems`` another app holds a live lease on."""
        if not self.folder.is_dir():
            return set()
        present = {entry.name for entry in os.scandir(self.folder)}
        return {
            stem
            for stem in stems
            if lease_file_name(stem) in present and self.holder(stem) is not None
        }

    def holds(self, stem: str) -> bool:
        """Whether this app holds the lease on ``stem``."""
        return stem in self._held

    def take(self, stem: str) -> bool:
        """Lease ``stem`` to this app: True when it is ours now (it was free, expired or its
        holder is gone); False when another app holds it."""
        if stem in self._held:
            return self._renew_one(stem)
        info = self._new(stem)
        if self._link_into_place(info):
            self._held[stem] = info
            return True
        with held_briefly(self.folder / GUARD_FILE_NAME):
            current = read_lease(self.path(stem))
            if current is not None and current.stem == stem and not is_free(current):
                return False
            if current is not None:
                log.info("taking over the lease of %s from %s", stem, current.describe())
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(stem))
            if not self._link_into_place(info):
                return False
        self._held[stem] = info
        return True

    def _renew_one(self, stem: str) -> bool:
        """Push the expiry of our lease on ``stem`` on; False (and forgotten) when lost."""
        mine = self._held[stem]
        with held_briefly(self.folder / GUARD_FILE_NAME):
            current = read_lease(self.path(stem))
            if current is not None and current.token != mine.token:
                del self._held[stem]
                log.warning("the lease of %s was taken over by %s", stem, current.describe())
                return False
            renewed = dataclasses.replace(mine, expires=time.time() + self.ttl)
            if current is None:  # gone (expired and released by another): made anew
                if not self._link_into_place(renewed):
                    del self._held[stem]
                    return False
            else:
                path = self.path(stem)
                data = json_bytes(renewed.to_json())
                write_bytes_atomic(path, data, mode=shared_file_mode(path))
        self._held[stem] = renewed
        return True

    def renew(self, *, every: float = RENEW_EVERY_SECONDS) -> None:
        """Renew every lease held, at most once per ``every`` seconds (call it often)."""
        now = time.monotonic()
        if now - self._renewed < every:
            return
        self._renewed = now
        for stem in list(self._held):
            try:
                self._renew_one(stem)
            except (OSError, WorkspaceError) as error:
                log.warning("could not renew the lease of %s: %s", stem, error)

    def release(self, stem: str) -> None:
        """Give ``stem``'s lease back (only if the file is still ours); safe to repeat."""
        mine = self._held.pop(stem, None)
        if mine is None:
            return
        try:
            with held_briefly(self.folder / GUARD_FILE_NAME):
                current = read_lease(self.path(stem))
                if current is not None and current.token == mine.token:
                    os.unlink(self.path(stem))
        except (OSError, WorkspaceError) as error:
            log.warning("could not release the lease of %s: %s", stem, error)

    def keep_only(self, stem: str | None) -> bool:
        """Hold the lease of ``stem`` alone (None: none); True when ``stem``'s is ours."""
        for other in [s for s in self._held if s != stem]:
            self.release(other)
        return stem is None or self.take(stem)

    def release_all(self) -> None:
        """Give every lease back (the app closes the project)."""
        for stem in list(self._held):
            self.release(stem)
