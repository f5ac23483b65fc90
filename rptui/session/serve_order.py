"""Serving images: which comes next (mode, scores, history) and the mask of the one served.

UI-free; :class:`rptui.session.review.ReviewSession` holds one :class:`ServeOrder` (its
``order``) and asks it which image comes next, which images to score in the background
and what to say about the score of the image on screen. The pieces (score book, history,
choosing) live in :mod:`rptui.session.order`.

When several apps annotate the project at once, an image another app holds a lease on
(:mod:`rptui.store.leases`) is never served to this one, in either order; an image
another app served in most-uncertain order is not served again, and in the fixed order
an image another annotator saved is passed over.
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
        """(index, stem) of images not served yet (here or by another app), not reviewed,
        not annotated, and not leased by another app."""
        served = self.history.served
        config = self.project.config
        served_elsewhere = set(config.served)
        found = [
            (i, stem)
            for i in range(len(self.project))
            if i not in served
            and (stem := self.project.stem(i)) not in config.reviewed
            and stem not in config.splits
            and stem not in served_elsewhere
        ]
        busy = self.leased_elsewhere([stem for _, stem in found])
        return [(i, stem) for i, stem in found if stem not in busy]

    def leased_elsewhere(self, stems: list[str]) -> set[str]:
        """Which of ``stems`` another app holds (none when the project is read-only)."""
        leases = self.project.leases
        if leases is None or not stems:
            return set()
        try:
            return leases.leased_by_others(stems)
        except OSError as error:
            log.warning("could not read the image leases: %s", error)
            return set()

    def next_free(self, current: int) -> int:
        """The first image after ``current`` in the fixed order that no other app holds and
        no other annotator saved (the next image when there is none such)."""
        last = len(self.project) - 1
        later = list(range(current + 1, last + 1))
        busy = self.leased_elsewhere([self.project.stem(i) for i in later])
        stems = {i: self.project.stem(i) for i in later}
        free = (i for i in later if stems[i] not in busy)
        return next(
            (i for i in free if not self.annotated_by_another(stems[i])), min(current + 1, last)
        )

    def annotated_by_another(self, stem: str) -> bool:
        """Whether an annotator other than this app's saved an annotation of ``stem``."""
        mine = self.project.annotator.to_json()
        records = self.project.config.annotated_by.get(stem, [])
        return any(
            record.get("user") != mine["user"] or record.get("name") != mine.get("name")
            for record in records
        )

    def next_index(self, current: int, *, shown_version: int | None = None) -> int:
        """The image after ``current``: the next in the fixed order, or the most uncertain
        unserved one (retracing first what was served after a step back, except images
        another app holds now). What other apps recorded since is read first."""
        if self.project.leases is not None:
            self.project.reload_config()
        if self.mode == SEQUENTIAL:
            return self.next_free(current)
        again = self.history.forward()  # the user went back with P: retrace first,
        while again is not None and self.leased_elsewhere([self.project.stem(again)]):
            again = self.history.forward()  # passing over what another app took since
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
