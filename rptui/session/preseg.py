"""Pre-segmentation in the review session: what to ask the segmenter for, what came back.

:class:`PreSegmenting` is a mixin of :class:`rptui.session.review.ReviewSession`. After each move
it plans the requests (the image on screen first, then the next ones or, in uncertain
order, images to score) and keeps each result on disk and, when it is the image on
screen or a visited slice of the open stack, in the session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cluster.api import Segmentation
from rptui.session.stack import as_shown_mask, encode_mask
from rptui.session.state import ReviewState

MAX_PRE_SEGMENT = 10


@dataclass
class PresegPlan:
    """What to ask the segmenter for after moving: (index, priority) pairs and names to drop."""

    requests: list[tuple[int, int]] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    # (index, slice, priority) of every request: a stack's slice on screen, its neighbours
    slices: list[tuple[int, int, int]] = field(default_factory=list)


class PreSegmenting(ReviewState):
    """Requests to the segmenter and their results (see the module docstring)."""

    n_classes: int
    _requested: set[str]
    _clock: Callable[[], float]
    _name: Callable[[int, int], str]
    _opening_slice: Callable[[int], int]

    def presegment_plan(self) -> PresegPlan:
        """The image on screen at priority 0 (unless unreadable) and the next N at 1..N;
        cancel the rest.

        In uncertain order the next image is not known in advance: instead up to N +
        SCORING_EXTRA candidates without a score by the newest model are asked for at
        SCORE_PRIORITY and up, so that their scores exist when the user moves on.
        """
        ahead = int(self.project.config.settings.get("pre_segment", 1))
        ahead = min(max(ahead, 0), MAX_PRE_SEGMENT)
        wanted = self.serving.to_request(
            self.index,
            ahead,
            shown_version=self.segmentation_version,
            name_of=lambda index: self._name(index, self._opening_slice(index)),
        )
        if self.problem is not None:  # nothing to segment in a placeholder
            del wanted[self.index]
        slices: list[tuple[int, int, int]] = []
        for index, priority in sorted(wanted.items(), key=lambda item: item[1]):
            if index != self.index:
                slices.append((index, self._opening_slice(index), priority + self.is_stack))
                continue
            slices.append((index, self.z, priority))
            neighbours = (self.z - 1, self.z + 1) if self.is_stack else ()
            slices.extend((index, z, priority + 1) for z in neighbours if 0 <= z < self.depth)
        names = {self._name(index, z) for index, z, _ in slices}
        plan = PresegPlan(
            requests=sorted(wanted.items(), key=lambda item: item[1]),
            cancels=sorted(self._requested - names),
            slices=slices,
        )
        self._requested = names
        return plan

    def request_name(self, index: int, z: int) -> str:
        """The name a segmentation request for slice ``z`` of item ``index`` goes by."""
        return self._name(index, z)

    def receive_segmentation(self, result: Segmentation) -> bool:
        """Save a result (and its score) to disk; True when it belongs to the image on screen."""
        self._requested.discard(result.name)
        self.serving.receive(result)
        mask = as_shown_mask(result.mask, classes=self.n_classes)
        saved = self.project.segmentation_info(result.name)
        saved_version = saved.model_version if saved is not None else None
        if not self.read_only and (saved_version is None or result.model_version >= saved_version):
            png = encode_mask(mask, classes=self.n_classes)
            self.project.save_segmentation(result.name, png, result.model_version)
        self._keep_for_slice(result.name, mask, result.model_version)
        if result.name != self.name or mask.shape != self.image.shape[:2]:
            return False
        shown = self.segmentation_version
        if self.segmentation is not None and shown is not None and result.model_version < shown:
            return False  # a late result of an older model never replaces the mask shown
        if self.segmentation is None and not self.annotation.dirty:
            self.shown_at = self._clock()  # waiting for the segmenter is not the user's time
        self.segmentation = mask
        self.segmentation_version = result.model_version
        return True

    def _keep_for_slice(self, name: str, mask: np.ndarray, version: int) -> None:
        """A mask of another visited slice of the open stack replaces the one it keeps."""
        if not self.is_stack or name == self.name:
            return
        for z, state in self._slices.items():
            if self._name(self.index, z) != name or state.annotation.shape != mask.shape:
                continue
            if state.segmentation_version is None or version >= state.segmentation_version:
                state.segmentation, state.segmentation_version = mask, version

    def scoring_names(self) -> list[str]:
        """Images asked for only to score them whose results were not received yet."""
        return self.serving.scoring_names()
