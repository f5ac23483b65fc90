"""Named groups of arrays kept in memory up to a byte bound, the oldest spilled to local disk.

A :class:`SpillPool` holds each entry (a tuple of arrays) in memory until the resident
total passes its bound; then the entries added or replaced longest ago are written to
``.npy`` files in a temporary folder the pool owns and read back memory-mapped
(``np.load(mmap_mode="r")``), so reading a crop touches only the pages it needs and
the operating system's page cache, not the process heap, holds them. Replacing or
removing an entry deletes its files; :meth:`SpillPool.close` (or garbage collection, or
interpreter exit) removes the folder. Thread-safe.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cluster.io.processes import pid_alive

log = logging.getLogger(__name__)

MIB = 1024**2
DEFAULT_MEMORY_BOUND = 512 * MIB  # resident bytes a pool keeps before it spills
SPILL_PREFIX = "rptui-spill-"


@dataclass(frozen=True)
class _Entry:
    arrays: tuple[np.ndarray, ...]
    files: tuple[Path, ...] = ()  # set when spilled: the arrays are memory maps of these

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for array in self.arrays)


def _remove_stale_folders(parent: Path) -> None:
    """Delete spill folders left by processes that no longer run (e.g. a killed actor)."""
    for folder in parent.glob(f"{SPILL_PREFIX}*-*"):
        pid_text = folder.name[len(SPILL_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)


class SpillPool:
    """Arrays by key: in memory up to ``memory_bound`` bytes, the oldest on local disk past it.

    Args:
        memory_bound: resident bytes allowed (default 512 MiB); entries are spilled,
            oldest first, until the resident total is at or under it.
        directory: where to make the spill folder (default: the system's temp folder).
    """

    def __init__(
        self, *, memory_bound: int = DEFAULT_MEMORY_BOUND, directory: Path | None = None
    ) -> None:
        if memory_bound < 0:
            raise ValueError(f"memory bound must be >= 0, got {memory_bound}")
        self._bound = memory_bound
        self._parent = Path(directory) if directory is not None else Path(tempfile.gettempdir())
        self._folder: Path | None = None
        self._finalizer: weakref.finalize | None = None
        self._resident: OrderedDict[str, _Entry] = OrderedDict()  # oldest first
        self._spilled: dict[str, _Entry] = {}
        self._resident_bytes = 0
        self._serial = itertools.count()
        self._lock = threading.Lock()
        self._closed = False

    # -- reading -----------------------------------------------------------------------------
    def get(self, key: str) -> tuple[np.ndarray, ...]:
        """The arrays of ``key`` (read-only memory maps when spilled); KeyError if absent."""
        with self._lock:
            entry = self._resident.get(key) or self._spilled.get(key)
            if entry is None:
                raise KeyError(key)
            return entry.arrays

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._resident or key in self._spilled

    def __len__(self) -> int:
        with self._lock:
            return len(self._resident) + len(self._spilled)

    def is_spilled(self, key: str) -> bool:
        with self._lock:
            return key in self._spilled

    @property
    def memory_bound(self) -> int:
        return self._bound

    @memory_bound.setter
    def memory_bound(self, value: int) -> None:
        """A new bound, applied at once (a lower one spills now)."""
        if value < 0:
            raise ValueError(f"memory bound must be >= 0, got {value}")
        with self._lock:
            self._bound = value
            self._spill_to_bound()

    @property
    def resident_bytes(self) -> int:
        """Bytes of the entries held in memory (spilled ones count nothing)."""
        with self._lock:
            return self._resident_bytes

    @property
    def spilled_bytes(self) -> int:
        with self._lock:
            return sum(entry.nbytes for entry in self._spilled.values())

    @property
    def folder(self) -> Path | None:
        """The spill folder, once something has been spilled (None before, and after close)."""
        return self._folder

    # -- writing -----------------------------------------------------------------------------
    def put(self, key: str, arrays: tuple[np.ndarray, ...]) -> None:
        """Add or replace ``key``; it becomes the newest entry. The arrays are kept as given."""
        entry = _Entry(tuple(arrays))
        with self._lock:
            if self._closed:
                raise RuntimeError("the spill pool is closed")
            self._drop(key)
            self._resident[key] = entry
            self._resident_bytes += entry.nbytes
            self._spill_to_bound()

    def remove(self, key: str) -> None:
        """Forget ``key`` and delete its files (no error when absent)."""
        with self._lock:
            self._drop(key)

    def close(self) -> None:
        """Forget everything and delete the spill folder."""
        with self._lock:
            self._closed = True
            self._resident.clear()
            self._spilled.clear()
            self._resident_bytes = 0
            if self._finalizer is not None:
                self._finalizer()
            self._folder = None

    def _drop(self, key: str) -> None:
        entry = self._resident.pop(key, None)
        if entry is not None:
            self._resident_bytes -= entry.nbytes
        entry = self._spilled.pop(key, None)
        if entry is not None:
            for path in entry.files:  # open memory maps stay valid after the unlink
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _spill_to_bound(self) -> None:
        while self._resident_bytes > self._bound and self._resident:
            key, entry = self._resident.popitem(last=False)
            self._resident_bytes -= entry.nbytes
            self._spilled[key] = self._write(entry)

    def _spill_folder(self) -> Path:
        if self._folder is None:
            self._parent.mkdir(parents=True, exist_ok=True)
            _remove_stale_folders(self._parent)
            folder = Path(
                tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-", dir=self._parent)
            )
            self._finalizer = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            self._folder = folder
            log.info("spilling annotations past %d MiB to %s", self._bound // MIB, folder)
        return self._folder

    def _write(self, entry: _Entry) -> _Entry:
        """The entry's arrays saved to fresh files and mapped back read-only."""
        folder = self._spill_folder()
        serial = next(self._serial)
        files, maps = [], []
        for index, array in enumerate(entry.arrays):
            if array.size == 0:  # nothing to map; keep it as it is
                maps.append(array)
                continue
            path = folder / f"{serial}-{index}.npy"  # a fresh name: never rewrite a mapped file
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            files.append(path)
            maps.append(np.load(path, mmap_mode="r", allow_pickle=False))
        return _Entry(tuple(maps), tuple(files))
