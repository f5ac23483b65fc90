"""Which image to serve next: the fixed order, or the one the model is least sure about.

UI-free. Uncertainty scores (:mod:`cluster.inference.uncertainty`) arrive with the segmenters'
results and are kept with the model version that made them in ``scores.json`` in the
project folder. In *uncertain* order the next image is the unserved, unreviewed,
unannotated image with the highest score made by the newest model; failing that the
highest score made by an older (stale) model; failing that the next image in the
fixed order. Images never scored, and stale scores, are asked for in the background
at a low priority, a few at a time.

A stack's slices are scored under their slice names (``scan.z0003``); the stack's own
score (:meth:`ScoreBook.item`) is the highest of its slices scored by the newest model
among them. The highest, not the mean: one slice the model is unsure of is worth the
user's visit (a mean would water it down with easy slices), and only the few slices
asked for are scored, so a mean would depend on which ones those were.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cluster.io.atomic import write_json_atomic
from cluster.io.stacks import parse_slice_name
from rptui.store.settings import ORDERS, SEQUENTIAL, UNCERTAIN, ProjectSettings

log = logging.getLogger(__name__)

ORDER_NAMES = {SEQUENTIAL: "sequential", UNCERTAIN: "most uncertain next"}
SCORES_FILE_NAME = "scores.json"
SCORE_PRIORITY = 100  # background scoring: after the image on screen and the next N
SCORING_EXTRA = 3  # scoring requests in flight beyond the pre-segment setting


def order_of(settings: ProjectSettings) -> str:
    """The order mode in a project's settings (sequential when unknown)."""
    return settings.order if settings.order in ORDERS else SEQUENTIAL


@dataclass(frozen=True)
class Score:
    """An image's uncertainty score and the model version that made it."""

    value: float
    model_version: int


class ScoreBook:
    """Scores by image stem; saved to ``path`` after each change unless ``path`` is None."""

    def __init__(self, path: Path | None = None, scores: dict[str, Score] | None = None) -> None:
        self.path = path
        self._scores: dict[str, Score] = {}
        self._slices: dict[str, set[str]] = {}  # stack stem -> its scored slice names
        for name, score in (scores or {}).items():
            self._keep(name, score)

    @classmethod
    def load(cls, path: Path, *, writable: bool = True) -> ScoreBook:
        """The scores saved at ``path``; a missing or unreadable file starts empty."""
        scores: dict[str, Score] = {}
        try:
            raw = json.loads(path.read_bytes())
            for stem, entry in raw.items():
                scores[str(stem)] = Score(float(entry["score"]), int(entry["model_version"]))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("ignoring the uncertainty scores in %s: %s", path, error)
            scores = {}
        return cls(path if writable else None, scores)

    def __len__(self) -> int:
        return len(self._scores)

    def get(self, stem: str) -> Score | None:
        """The score of ``stem`` (an image, or one slice of a stack), or None if never scored."""
        return self._scores.get(stem)

    def item(self, stem: str) -> Score | None:
        """The score of item ``stem``: an image's own, or the highest of a stack's slices
        scored by the newest model among them (see the module docstring); None if unscored."""
        own = self._scores.get(stem)
        if own is not None or stem not in self._slices:
            return own
        scores = [self._scores[name] for name in self._slices[stem]]
        newest = max(score.model_version for score in scores)
        return Score(max(s.value for s in scores if s.model_version == newest), newest)

    def values(self) -> list[float]:
        """Every score, in no particular order."""
        return [score.value for score in self._scores.values()]

    @property
    def newest_version(self) -> int:
        """The newest model version among the scores (0 when none)."""
        return max((s.model_version for s in self._scores.values()), default=0)

    def record(self, stem: str, value: float, model_version: int) -> bool:
        """Keep a score unless one by a newer model is held; True when kept (and saved)."""
        held = self._scores.get(stem)
        if held is not None and held.model_version > model_version:
            return False
        self._keep(stem, Score(float(value), int(model_version)))
        self.save()
        return True

    def _keep(self, name: str, score: Score) -> None:
        self._scores[name] = score
        parsed = parse_slice_name(name)
        if parsed is not None:
            self._slices.setdefault(parsed[0], set()).add(name)

    def save(self) -> None:
        """Write the scores atomically (a failure is logged: scores can be remade)."""
        if self.path is None:
            return
        data = {
            stem: {"score": round(s.value, 6), "model_version": s.model_version}
            for stem, s in sorted(self._scores.items())
        }
        try:
            write_json_atomic(self.path, data)
        except OSError as error:
            log.warning("could not save uncertainty scores to %s: %s", self.path, error)


def most_uncertain(
    candidates: Iterable[tuple[int, str]], scores: ScoreBook, *, newest_version: int
) -> int | None:
    """The candidate (index, stem) with the highest fresh score, else the highest stale one
    (a stack's score: :meth:`ScoreBook.item`)."""
    best: tuple[bool, float, int] | None = None  # (fresh, score, -index): max wins
    chosen: int | None = None
    for index, stem in candidates:
        score = scores.item(stem)
        if score is None:
            continue
        key = (score.model_version >= newest_version, score.value, -index)
        if best is None or key > best:
            best, chosen = key, index
    return chosen


def next_in_sequence(candidates: Sequence[int], after: int) -> int | None:
    """The first candidate after ``after`` in the fixed order, wrapping round; None if none."""
    if not candidates:
        return None
    later = [i for i in candidates if i > after]
    return min(later) if later else min(candidates)


def to_score(
    candidates: Sequence[tuple[int, str]],
    scores: ScoreBook,
    *,
    newest_version: int,
    after: int,
    limit: int,
) -> list[int]:
    """Up to ``limit`` candidates to score: never-scored ones first (fixed order from
    ``after``), then those scored by an older model, most uncertain first."""
    if limit <= 0:
        return []
    ahead = sorted(candidates, key=lambda item: (item[0] <= after, item[0]))
    held = {i: scores.item(stem) for i, stem in ahead}
    unscored = [i for i, _ in ahead if held[i] is None]
    stale = [
        (score.value, i)
        for i, _ in ahead
        if (score := held[i]) is not None and score.model_version < newest_version
    ]
    return (unscored + [i for _, i in sorted(stale, reverse=True)])[:limit]


class ServedHistory:
    """The images served, in order, with a cursor that P moves back and N forward."""

    def __init__(self, first: int) -> None:
        self.indices: list[int] = [first]
        self.cursor = 0

    @classmethod
    def resume(cls, earlier: Sequence[int], current: int) -> ServedHistory:
        """A history that goes on from ``earlier`` sessions' images, now at ``current``."""
        history = cls(earlier[0] if earlier else current)
        for index in [*earlier[1:], current]:
            history.serve(index)
        return history

    @property
    def served(self) -> set[int]:
        """Every index served so far."""
        return set(self.indices)

    def serve(self, index: int) -> None:
        """A new image on screen (skipped when it is the one the cursor is on)."""
        if self.indices[self.cursor] == index:
            return
        self.indices.append(index)
        self.cursor = len(self.indices) - 1

    def back(self) -> int:
        """The image served before the one at the cursor (the first stays put)."""
        self.cursor = max(self.cursor - 1, 0)
        return self.indices[self.cursor]

    def forward(self) -> int | None:
        """The image served after the cursor's, if the user went back; else None."""
        if self.cursor >= len(self.indices) - 1:
            return None
        self.cursor += 1
        return self.indices[self.cursor]
