"""What the backend link tells its listener (the annotate screen draws them; the bench logs).

Each event is a small frozen dataclass; a listener is one function that takes any of
them (:data:`Listener`) and matches on the type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cluster.api import Backend, TrainerStatus


@dataclass(frozen=True)
class StatusChanged:
    """A fresh trainer status; ``new_model``: a better model than the one known arrived."""

    status: TrainerStatus
    new_model: bool = False


@dataclass(frozen=True)
class WentOffline:
    """The backend stopped answering (``first``: just now, not again while offline)."""

    reason: str
    first: bool


@dataclass(frozen=True)
class BackendAttached:
    """A backend to talk to (None: none, offline)."""

    backend: Backend | None


@dataclass(frozen=True)
class MaskArrived:
    """A segmentation result came in; ``shown``: it is now the mask of the image on screen."""

    name: str
    shown: bool


@dataclass(frozen=True)
class NoMask:
    """No mask of the image on screen came in time (``message`` says which and what to do)."""

    message: str


@dataclass(frozen=True)
class Notice:
    """Something the user should read (training started, back online, a refusal)."""

    text: str
    warning: bool = False


LinkEvent = StatusChanged | WentOffline | BackendAttached | MaskArrived | NoMask | Notice
Listener = Callable[[LinkEvent], None]
