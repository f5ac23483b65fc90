"""Pre-segmentation in the review session: what to ask the segmenter for, what came back.

A :class:`PreSegmenter` owns the session's segmentation requests. After each move it
plans them (the image on screen first, then the next ones or, in uncertain order,
images to score) and remembers what it asked for, so what the user left behind is
cancelled; each result is kept on disk and, when it is the image on screen or a visited
slice of the open stack, handed to the :class:`~rptui.session.view.Viewer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.api import Segmentation
from rptui.session.serve_order import ServeOrder
from rptui.session.stack import as_shown_mask, encode_mask
from rptui.session.view import Viewer
from rptui.store.project import Project


@dataclass
class PresegPlan:
    """What to ask the segmenter for after moving.

    ``slices``: (index, slice, priority) of every request, a lower priority first (a
    stack's slice on screen, then its neighbours); ``cancels``: names to drop.
    """

    slices: list[tuple[int, int, int]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)


class PreSegmenter:
    """The segmentation requests of a session on ``project`` (see the module docstring)."""

    def __init__(self, project: Project, viewer: Viewer, order: ServeOrder) -> None:
        self.project = project
        self.viewer = viewer
        self.order = order
        self._requested: set[str] = set()

    def plan(self) -> PresegPlan:
        """The image on screen at priority 0 (unless unreadable) and the next N at 1..N;
        cancel the rest.

        In uncertain order the next image is not known in advance: instead up to N +
        SCORING_EXTRA candidates without a score by the newest model are asked for at
        SCORE_PRIORITY and up, so that their scores exist when the user moves on.
        """
        view = self.viewer
        ahead = self.project.config.settings.pre_segment
        wanted = self.order.to_request(
            view.index,
            ahead,
            shown_version=view.segmentation_version,
            name_of=lambda index: view.name_of(index, view.opening_slice(index)),
        )
        if view.problem is not None:  # nothing to segment in a placeholder
            del wanted[view.index]
        slices: list[tuple[int, int, int]] = []
        for index, priority in sorted(wanted.items(), key=lambda item: item[1]):
            if index != view.index:
                slices.append((index, view.opening_slice(index), priority + view.is_stack))
                continue
            slices.append((index, view.z, priority))
            neighbours = (view.z - 1, view.z + 1) if view.is_stack else ()
            slices.extend((index, z, priority + 1) for z in neighbours if 0 <= z < view.depth)
        names = {view.name_of(index, z) for index, z, _ in slices}
        plan = PresegPlan(slices=slices, cancels=sorted(self._requested - names))
        self._requested = names
        return plan

    def receive(self, result: Segmentation) -> bool:
        """Save a result (and its score) to disk; True when it is now the mask on screen."""
        self._requested.discard(result.name)
        self.order.receive(result)
        classes = self.viewer.n_classes
        mask = as_shown_mask(result.mask, classes=classes)
        saved = self.project.segmentation_info(result.name)
        saved_version = saved.model_version if saved is not None else None
        if not self.project.read_only and (
            saved_version is None or result.model_version >= saved_version
        ):
            png = encode_mask(mask, classes=classes)
            self.project.save_segmentation(result.name, png, result.model_version)
        return self.viewer.take_mask(result.name, mask, result.model_version)
