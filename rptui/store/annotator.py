"""Who is annotating: the operating system's user name, plus the name given by ``--annotator``.

Several people may annotate one project at once (docs/workspace.md); each saved
annotation records its annotator and time in ``project.json`` (``annotated_by``), and
each image lease names the annotator holding the image.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from rptui.store.paths import WorkspaceError

MAX_ANNOTATOR_LENGTH = 64
UNKNOWN_USER = "unknown"


def os_user() -> str:
    """The operating system's name for the user running this process."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container) and no $USER
        name = f"uid{os.getuid()}"
    return clean_annotator(name, what="user name", strict=False) or UNKNOWN_USER


def clean_annotator(name: str, *, what: str = "annotator name", strict: bool = True) -> str:
    """``name`` stripped, checked to be printable and at most MAX_ANNOTATOR_LENGTH characters.

    Strict: WorkspaceError when it is not; else the bad characters are dropped and the
    name cut to length.
    """
    text = name.strip()
    printable = "".join(char for char in text if char.isprintable())
    if strict:
        if not text:
            raise WorkspaceError(f"{what} must not be empty")
        if printable != text:
            raise WorkspaceError(f"{what} {text!r} contains a control character")
        if len(text) > MAX_ANNOTATOR_LENGTH:
            raise WorkspaceError(f"{what} is longer than {MAX_ANNOTATOR_LENGTH} characters")
    return printable[:MAX_ANNOTATOR_LENGTH]


@dataclass(frozen=True)
class Annotator:
    """An annotator: the OS user and, optionally, the name they gave (``--annotator``)."""

    user: str
    name: str | None = None

    @classmethod
    def current(cls, name: str | None = None) -> Annotator:
        """This process's annotator; WorkspaceError when ``name`` is not a usable name."""
        return cls(os_user(), None if name is None else clean_annotator(name))

    @property
    def label(self) -> str:
        """How the annotator is shown: ``name (user)``, or the user alone."""
        if self.name is None or self.name == self.user:
            return self.user
        return f"{self.name} ({self.user})"

    def to_json(self) -> dict[str, str]:
        """The annotator's fields in a project.json record or a lease."""
        return {"user": self.user} if self.name is None else {"user": self.user, "name": self.name}
