"""What every part of the review session reads: the one declaration of its shared state.

The review session (:class:`rptui.session.review.ReviewSession`) is built from mixins, each in
its own module; they all subclass :class:`ReviewState` so the attributes they share are
declared (and typed) once. The session's ``__init__`` sets them.
"""

from __future__ import annotations

import numpy as np

from rptui.session.serve_order import ServeOrder
from rptui.session.stack import SliceState
from rptui.store.annotation import Annotation
from rptui.store.project import Project


class ReviewState:
    """The image on screen and where it sits in the project."""

    project: Project
    serving: ServeOrder
    read_only: bool
    name: str
    is_stack: bool
    index: int
    z: int
    depth: int
    image: np.ndarray
    annotation: Annotation
    segmentation: np.ndarray | None
    segmentation_version: int | None
    problem: str | None
    shown_at: float
    _slices: dict[int, SliceState]
