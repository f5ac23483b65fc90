"""Safe names and paths inside the workspace, the workspace's errors, model file names.

Names read from project files (project, dataset and image names) must never lead a
write outside the workspace: empty names, ``.``/``..``, path separators, NUL and
absolute paths are rejected with a :class:`WorkspaceError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from cluster.io.images import IMAGE_SUFFIXES
from cluster.io.model_names import parse_model_name

MAX_NAME_LENGTH = 255


class WorkspaceError(Exception):
    """A user-facing problem with the workspace: bad name, missing project, and so on."""


class CorruptProjectError(WorkspaceError):
    """A project file that cannot be read; it is never overwritten."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"corrupt project file {self.path}: {reason} (left unchanged)")


class ReadOnlyProjectError(WorkspaceError):
    """A write was attempted on a project opened read-only."""


def validate_name(name: object, *, what: str = "name") -> str:
    """Return ``name`` if it is a safe single path component, else raise WorkspaceError."""
    if not isinstance(name, str):
        raise WorkspaceError(f"{what} must be a string, got {type(name).__name__}")
    if not name or not name.strip():
        raise WorkspaceError(f"{what} must not be empty")
    if "\x00" in name:
        raise WorkspaceError(f"{what} {name!r} contains a NUL character")
    if "/" in name or "\\" in name:
        raise WorkspaceError(f"{what} {name!r} must not contain a path separator")
    if name in (".", ".."):
        raise WorkspaceError(f"{what} {name!r} is not allowed")
    if PureWindowsPath(name).drive:
        raise WorkspaceError(f"{what} {name!r} must not be a drive or absolute path")
    if len(name.encode()) > MAX_NAME_LENGTH:
        raise WorkspaceError(f"{what} {name[:40]!r}... is longer than {MAX_NAME_LENGTH} bytes")
    if any(ord(char) < 32 for char in name):
        raise WorkspaceError(f"{what} {name!r} contains a control character")
    return name


def safe_relative_path(relative: object, *, what: str = "path") -> PurePosixPath:
    """Parse a relative path made of safe components (no ``..``, not absolute)."""
    if not isinstance(relative, str):
        raise WorkspaceError(f"{what} must be a string, got {type(relative).__name__}")
    if "\x00" in relative:
        raise WorkspaceError(f"{what} {relative!r} contains a NUL character")
    if not relative or relative.startswith(("/", "\\")) or PureWindowsPath(relative).drive:
        raise WorkspaceError(f"{what} {relative!r} must be a non-empty relative path")
    parts = [part for part in re.split(r"[/\\]", relative) if part not in ("", ".")]
    if not parts:
        raise WorkspaceError(f"{what} {relative!r} must be a non-empty relative path")
    for part in parts:
        validate_name(part, what=f"{what} component")
    return PurePosixPath(*parts)


def child_path(root: Path, name: str, *, what: str = "name") -> Path:
    """``root / name`` for a validated single-component ``name``."""
    return Path(root) / validate_name(name, what=what)


def is_image_name(name: str) -> bool:
    """Whether ``name`` has one of the image suffixes the workspace reads."""
    return Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith(".")


def stem_of(file_name: str) -> str:
    """The stem annotations and segmentations of an image are named by."""
    return Path(validate_name(file_name, what="image file name")).stem


@dataclass(frozen=True, order=True)
class ModelFileInfo:
    """A model file named ``NNNNNN_<unix time>.<ext>`` (ours or RootPainter's)."""

    number: int
    unix_time: int
    path: Path

    @property
    def is_rootpainter_pickle(self) -> bool:
        """Whether the file is RootPainter's ``.pkl`` (a torch-saved state dict)."""
        return self.path.suffix == ".pkl"


def parse_model_file_name(path: Path) -> ModelFileInfo | None:
    """Parse ``NNNNNN_<unix>.<ext>``; None when the name does not match."""
    parsed = parse_model_name(Path(path).name)
    if parsed is None:
        return None
    return ModelFileInfo(number=parsed[0], unix_time=parsed[1], path=Path(path))
