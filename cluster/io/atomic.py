"""Atomic file writes: a kill at any moment leaves the old file or the new one.

Each write goes to a temporary file in the target's directory, is flushed and
fsynced, then renamed over the target with :func:`os.replace`; the directory is
fsynced so the rename itself survives a power cut. Temporary files are named
``.<target name>.<random>.tmp`` so :func:`remove_stale_temp_files` can clean up
after a writer that was killed between creating and renaming one.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
# A temporary file older than this is a leftover of a killed writer.
STALE_TEMP_SECONDS = 60.0
NEW_FILE_MODE = 0o666  # before the umask, as open() would create it


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which is not thread-safe.
_UMASK = _read_umask()


def new_file_mode(path: Path) -> int:
    """The permissions a replaced file keeps, or a new file gets (0o666 minus umask)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return NEW_FILE_MODE & ~_UMASK


def _fsync_directory(directory: Path) -> None:
    """Flush a directory entry (the rename) to disk; a no-op where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path | str, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename, fsync dir).

    ``mode`` sets the file's permissions; by default a replaced file keeps its own and
    a new one gets what ``open()`` would give it.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), new_file_mode(path) if mode is None else mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


def write_text_atomic(path: Path | str, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode(encoding))


def json_bytes(obj: Any) -> bytes:
    """Encode ``obj`` as the JSON this project writes: indent 2, sorted keys, newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_json_atomic(path: Path | str, obj: Any) -> None:
    """Write ``obj`` as JSON (indent 2, sorted keys) to ``path`` atomically."""
    write_bytes_atomic(path, json_bytes(obj))


def png_bytes(array: np.ndarray, *, compress_level: int = 1) -> bytes:
    """Encode a HxW, HxWx3 or HxWx4 uint8 (or HxW uint16) array as PNG bytes."""
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(
        buffer, format="PNG", compress_level=compress_level
    )
    return buffer.getvalue()


def write_png_atomic(path: Path | str, array: np.ndarray, *, compress_level: int = 1) -> None:
    """Encode ``array`` as PNG and write it to ``path`` atomically."""
    write_bytes_atomic(path, png_bytes(array, compress_level=compress_level))


def remove_stale_temp_files(
    directory: Path | str, *, older_than: float = STALE_TEMP_SECONDS
) -> list[Path]:
    """Remove temporary files of killed writers in ``directory``; return those removed.

    Only files named like ours (``.<name>.<random>.tmp``) and older than
    ``older_than`` seconds are removed, so a write in flight is left alone.
    """
    directory = Path(directory)
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    now = time.time()
    for entry in directory.iterdir():
        name = entry.name
        if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
            continue
        try:
            if now - entry.stat().st_mtime < older_than or not entry.is_file():
                continue
            entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    if removed:
        logger.info("removed %d stale temporary files in %s", len(removed), directory)
    return removed
