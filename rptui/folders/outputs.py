"""Where a command writes, checked before the first image so a mistake costs no work.

A folder run's OUTPUT must not be its INPUT or inside it (the masks would be read as
images on the next run), must be a folder (or not exist yet) and must take files; a
table or plot must name a file in a folder that takes files. Each refusal is one line
naming the path and what to do.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rptui.errors import UserError

PROBE_PREFIX = ".rptui-write-check-"


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest folder that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _check_takes_files(folder: Path, what: str) -> None:
    """Refuse unless a file can be made in ``folder`` (tried, then removed)."""
    try:
        with tempfile.NamedTemporaryFile(prefix=PROBE_PREFIX, dir=folder):
            pass
    except PermissionError as error:
        raise UserError(
            f"cannot write {what} in {folder} ({error.strerror}): choose a folder you can write to"
        ) from error
    except OSError as error:
        raise UserError(f"cannot write {what} in {folder}: {error.strerror or error}") from error


def check_output_folder(folder: Path, *, source: Path | None = None) -> None:
    """Refuse an OUTPUT folder that cannot take the masks (see the module docstring).

    The folder itself is not made here; its nearest existing parent must take files.
    """
    if source is not None:
        output, input_ = folder.resolve(), source.resolve()
        if output == input_ or output.is_relative_to(input_):
            raise UserError(
                f"OUTPUT {folder} is inside INPUT {source}: its masks would be read as "
                "images; choose a folder outside INPUT"
            )
    if folder.exists() and not folder.is_dir():
        raise UserError(f"OUTPUT {folder} is a file, not a folder: choose a folder")
    ancestor = _existing_ancestor(folder)
    if not ancestor.is_dir():
        raise UserError(f"cannot make OUTPUT {folder}: {ancestor} is a file, not a folder")
    _check_takes_files(ancestor, "masks")


def check_output_file(path: Path, *, what: str = "the table") -> None:
    """Refuse a file to write that is a folder, or whose folder cannot take files."""
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder: name a file in it")
    ancestor = _existing_ancestor(path.parent)
    if not ancestor.is_dir():
        raise UserError(f"cannot write {what} {path}: {ancestor} is a file, not a folder")
    _check_takes_files(ancestor, f"{what} {path.name}")
