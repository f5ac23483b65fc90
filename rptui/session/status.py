"""The review session's status line: position, annotations, model, score and markers."""

from __future__ import annotations

from cluster.api import TrainerStatus
from rptui.session.order import ORDER_NAMES, SEQUENTIAL
from rptui.session.state import ReviewState

SEPARATOR = " · "


class Reporting(ReviewState):
    """What the user reads about the image on screen (a mixin of ``ReviewSession``)."""

    score_text: str | None
    order: str

    def status_line(
        self, status: TrainerStatus | None, *, model_version: int = 0, offline: bool = False
    ) -> str:
        """``i / N · k annotated · model #m F1 0.xx · epoch e (n since best)`` and markers."""
        n_annotated = len(self.project.config.splits)
        version = max(model_version, status.model_version if status else 0)
        f1 = f"{status.best_f1:.2f}" if status and status.best_f1 is not None else "–"
        parts = [f"{self.index + 1} / {len(self)}"]
        if self.is_stack:
            parts.append(f"slice {self.z + 1}/{self.depth}")
        parts += [
            f"{n_annotated} annotated",
            f"model #{version} F1 {f1}",
            f"epoch {status.epoch if status else 0} "
            f"({status.epochs_since_best if status else 0} since best)",
        ]
        score = self.score_text
        if score is not None:
            parts.append(score)
        if self.order != SEQUENTIAL:
            parts.append(ORDER_NAMES[self.order])
        if offline:
            parts.append("offline")
        if self.read_only:
            parts.append(f"read-only: {self.project.read_only_reason or 'locked'}")
        if self.problem is not None:
            parts.append(f"not shown: {self.problem}")
        return SEPARATOR.join(parts)
