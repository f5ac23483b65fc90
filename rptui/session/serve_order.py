"""Serving images: which comes next (mode, scores, history) and the mask of the one served.

UI-free; :class:`rptui.session.review.ReviewSession` holds one :class:`ServeOrder` (its
``order``) and asks it which image comes next, which images to score in the background
and what to say about the score of the image on screen. The pieces (score book, history,
choosing) live in :mod:`rptui.session.order`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cluster.api import Segmentation
from rptui.session.order import (
    ORDERS,
    SCORE_PRIORITY,
    SCORES_FILE_NAME,
    SCORING_EXTRA,
    SEQUENTIAL,
    UNCERTAIN,
    ScoreBook,
    ServedHistory,
    most_uncertain,
    next_in_sequence,
    order_of,
    to_score,
)
from rptui.store.paths import WorkspaceError
from rptui.store.project import Project

log = logging.getLogger(__name__)


class ServeOrder:
    """Chooses the next image of ``project`` by its order setting; starts at ``current``."""

    def __init__(self, project: Project, current: int) -> None:
        self.project = project
        self.scores = ScoreBook.load(
            project.root / SCORES_FILE_NAME, writable=not project.read_only
        )
        known = {stem: i for i, stem in enumerate(map(project.stem, range(len(project))))}
        earlier = [known[stem] for stem in project.config.served if stem in known]
        self.history = ServedHistory.resume(earlier, current)
        self._scoring: set[str] = set()

    # -- the mode ------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """``sequential`` (the fixed order) or ``uncertain`` (most uncertain next)."""
        return order_of(self.project.config.settings)

    def set_mode(self, mode: str) -> None:
        """Choose the order mode (kept in the project's settings; the caller saves them)."""
        if mode not in ORDERS:
            raise WorkspaceError(f"order must be one of {', '.join(ORDERS)}, got {mode!r}")
        self.project.config.settings.order = mode

    def toggled(self) -> str:
        """The other order mode."""
        return UNCERTAIN if self.mode == SEQUENTIAL else SEQUENTIAL

    # -- moving ----------------------------------------------------------------------------
    def newest_version(self, shown_version: int | None = None) -> int:
        """The newest model version known: the project's model files, the scores, the mask shown."""
        newest = self.project.newest_model()
        return max(
            newest.number if newest is not None else 0,
            self.scores.newest_version,
            shown_version or 0,
        )

    def candidates(self) -> list[tuple[int, str]]:
        """(index, stem) of images not served yet, not reviewed, not annotated."""
        served = self.history.served
        config = self.project.config
        return [
            (i, stem)
            for i in range(len(self.project))
            if i not in served
            and (stem := self.project.stem(i)) not in config.reviewed
            and stem not in config.splits
        ]

    def next_index(self, current: int, *, shown_version: int | None = None) -> int:
        """The image after ``current``: the next in the fixed order, or the most uncertain
        unserved one (retracing first what was served after a step back)."""
        if self.mode == SEQUENTIAL:
            return min(current + 1, len(self.project) - 1)
        again = self.history.forward()  # the user went back with P: retrace first
        if again is not None:
            return again
        candidates = self.candidates()
        newest = self.newest_version(shown_version)
        chosen = most_uncertain(candidates, self.scores, newest_version=newest)
        if chosen is None:
            chosen = next_in_sequence([i for i, _ in candidates], current)
        return current if chosen is None else chosen

    def previous_index(self, current: int) -> int:
        """The image before: in the fixed order, or the one served before (uncertain order)."""
        if self.mode == UNCERTAIN:
            return self.history.back()
        return max(current - 1, 0)

    def served(self, index: int) -> None:
        """Note an image shown after a move; in uncertain order it is never served again."""
        self.history.serve(index)
        if self.mode == UNCERTAIN and not self.project.read_only:
            self.project.set_position(index, served=True)

    # -- scores ----------------------------------------------------------------------------
    def to_request(
        self,
        current: int,
        ahead: int,
        *,
        shown_version: int | None = None,
        name_of: Callable[[int], str] | None = None,
    ) -> dict[int, int]:
        """{index: priority} to pre-segment around ``current``: the image itself at 0, then
        the next ``ahead`` at 1..N (fixed order) or, in uncertain order, up to ``ahead`` +
        SCORING_EXTRA images without a score by the newest model at SCORE_PRIORITY and up.

        ``name_of(index)`` is the name an item is requested under (a stack: the slice
        asked for; the stem by default); :meth:`scoring_names` are those names."""
        if self.mode == SEQUENTIAL:
            self._scoring = set()
            last = min(current + ahead, len(self.project) - 1)
            return {i: i - current for i in range(current, last + 1)}
        scoring = to_score(
            self.candidates(),
            self.scores,
            newest_version=self.newest_version(shown_version),
            after=current,
            limit=ahead + SCORING_EXTRA,
        )
        self._scoring = {(name_of or self.project.stem)(i) for i in scoring}
        wanted = {current: 0}
        wanted.update({i: SCORE_PRIORITY + k for k, i in enumerate(scoring)})
        return wanted

    def receive(self, result: Segmentation) -> None:
        """Keep the score a result carries; it is no longer awaited for scoring."""
        self._scoring.discard(result.name)
        if result.uncertainty is not None:
            self.scores.record(result.name, result.uncertainty, result.model_version)

    def scoring_names(self) -> list[str]:
        """Images asked for only to score them whose results were not received yet."""
        return sorted(self._scoring)

    def score_text(self, stem: str, *, shown_version: int | None = None) -> str | None:
        """The uncertainty of ``stem`` for the status line, or None."""
        score = self.scores.get(stem)
        if score is None:
            return None
        stale = score.model_version < self.newest_version(shown_version)
        return f"uncertainty {score.value:.2f}{' (older model)' if stale else ''}"
