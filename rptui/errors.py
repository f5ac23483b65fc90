"""The user's errors: what the command line reports in one line, exit status 2."""

from __future__ import annotations


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
        ("cluster.io.images", "ImageReadError"),
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
