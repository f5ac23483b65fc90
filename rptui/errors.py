"""The user's errors: what the command line reports in one line, exit status 2."""

from __future__ import annotations

import errno


class UserError(Exception):
    """Something the user can fix: a missing folder, a bad option, a corrupt file."""


EXIT_USER_ERROR = 2


def user_error_types() -> tuple[type[BaseException], ...]:
    """Every exception type that means "the user's input is wrong", not "a bug"."""
    types: list[type[BaseException]] = [UserError, FileNotFoundError, NotADirectoryError]
    for module, name in (
        ("rptui.store.workspace", "WorkspaceError"),
        ("rptui.store.dataset", "DatasetError"),
        ("rptui.store.annotation", "AnnotationError"),
        ("cluster.io.image_limits", "ImageReadError"),
        ("cluster.io.model_files", "ModelFileError"),
        ("cluster.head.connect", "ConnectError"),
    ):
        try:
            imported = __import__(module, fromlist=[name])
        except ImportError:
            continue
        error = getattr(imported, name, None)
        if isinstance(error, type) and issubclass(error, BaseException):
            types.append(error)
    return tuple(types)


EXIT_FAILURE = 1  # the machine's trouble (a full disk, a broken device), not the user's input
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_ADVICE: dict[int, str] = {
    errno.EACCES: "permission denied: choose a place you can write to, or ask its owner",
    errno.EPERM: "not permitted: choose a place you can write to, or ask its owner",
    errno.EROFS: "a read-only file system: choose a place you can write to",
    errno.EISDIR: "is a folder: name a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "already exists: choose another name",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def os_error_message(error: OSError) -> tuple[str, int]:
    """One line for an operating-system error (naming the path and what to do) and the
    exit status: 2 when the user can fix the path, 1 otherwise."""
    paths = [str(name) for name in (error.filename, error.filename2) if name is not None]
    where = f"{' → '.join(paths)}: " if paths else ""
    if error.errno in _NO_SPACE:
        return (
            f"{where}no space left on the disk: free some space, then run the same command "
            "again (what was already written is kept and not done again)",
            EXIT_FAILURE,
        )
    if error.errno in _ADVICE:
        return f"{where}{_ADVICE[error.errno]}", EXIT_USER_ERROR
    return f"{where}{error.strerror or error}", EXIT_FAILURE
