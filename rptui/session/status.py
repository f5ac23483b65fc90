"""The review session's status line: position, annotations, model, score, markers, brush.

The line is made of :class:`StatusPart` s, each with a short form and a weight; at the
width the screen has, :func:`fit_status` shortens the lightest parts first, then leaves
them out, so the position, the model and the brush stay readable at 80 columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cluster.api import TrainerStatus, describe_model
from rptui.session.order import ORDER_NAMES, SEQUENTIAL

if TYPE_CHECKING:
    from rptui.session.paint import Brush
    from rptui.session.review import ReviewSession

SEPARATOR = " · "
ELLIPSIS = "…"
STATUS_F1_DIGITS = 2
# Weights: the heavier a part, the longer it keeps its full form and its place.
ESSENTIAL, HIGH, MEDIUM, LOW = 4, 3, 2, 1


@dataclass(frozen=True)
class StatusPart:
    """One piece of the status line: its text, a shorter form, and how much it matters."""

    text: str
    short: str
    weight: int = MEDIUM

    @classmethod
    def fixed(cls, text: str, weight: int = ESSENTIAL) -> StatusPart:
        """A part that has no shorter form."""
        return cls(text, text, weight)


def model_status_text(status: TrainerStatus | None) -> str:
    """``model #m F1 0.xx`` (and its F1 when saved, when rescored) for the status line."""
    if status is None:
        return describe_model(0, None)
    return describe_model(
        status.model_version, status.best_f1, status.saved_f1, digits=STATUS_F1_DIGITS
    )


def _compact_model(text: str) -> str:
    return text.replace("model #", "#").replace(" when saved", " saved")


def status_parts(
    session: ReviewSession, status: TrainerStatus | None, *, offline: bool = False
) -> list[StatusPart]:
    """The parts of ``i / N · k annotated · model #m F1 0.xx · epoch e (n since best)`` and
    the markers that follow (score, order, offline, read-only, a problem with the image)."""
    project, view, order = session.project, session.viewer, session.order
    n_annotated = len(project.config.splits)
    model = model_status_text(status)
    epoch, since_best = (status.epoch, status.epochs_since_best) if status else (0, 0)
    position = StatusPart(
        f"{view.index + 1} / {len(project)}", f"{view.index + 1}/{len(project)}", ESSENTIAL
    )
    parts = [position]
    if view.is_stack:
        parts.append(StatusPart(f"slice {view.z + 1}/{view.depth}", f"z {view.z + 1}", HIGH))
    parts += [
        StatusPart(f"{n_annotated} annotated", f"{n_annotated} ann", MEDIUM),
        StatusPart(model, _compact_model(model), HIGH),
        StatusPart(f"epoch {epoch} ({since_best} since best)", f"epoch {epoch}", LOW),
    ]
    score = order.score_text(view.name, shown_version=view.segmentation_version)
    if score is not None:
        parts.append(StatusPart(score, score.replace("uncertainty", "unc"), LOW))
    if order.mode != SEQUENTIAL:
        parts.append(StatusPart(ORDER_NAMES[order.mode], "uncertain first", LOW))
    if offline:
        parts.append(StatusPart.fixed("offline"))
    if project.read_only:
        reason = project.read_only_reason or "locked"
        parts.append(StatusPart(f"read-only: {reason}", "read-only", ESSENTIAL))
    if session.held_by is not None:
        who = session.held_by.annotator
        text = f"{who} is annotating this image: not saved"
        parts.append(StatusPart(text, f"held by {who}", ESSENTIAL))
    if view.problem is not None:
        parts.append(StatusPart(f"not shown: {view.problem}", "not shown", ESSENTIAL))
    return parts


def status_line(
    session: ReviewSession, status: TrainerStatus | None, *, offline: bool = False
) -> str:
    """The whole status line, every part in full."""
    return SEPARATOR.join(part.text for part in status_parts(session, status, offline=offline))


def brush_status(brush: Brush) -> StatusPart:
    """``foreground r3`` (the brush and its radius), with the pen and a box mark if any."""
    text = f"{brush.name} r{brush.radius}"
    if brush.pen_down:
        text += " pen down"
    if brush.box_mark is not None:
        text += " box mark"
    return StatusPart.fixed(text)


def view_status(zoom_percent: float, hidden: list[str]) -> list[StatusPart]:
    """``zoom 25%`` and the layers hidden (``hidden: image, segmentation``), if any."""
    zoom = f"{zoom_percent:.0f}%"
    parts = [StatusPart(f"zoom {zoom}", zoom, MEDIUM)]
    if hidden:
        initials = "".join(layer[0] for layer in hidden)
        parts.append(StatusPart(f"hidden: {', '.join(hidden)}", f"hid {initials}", HIGH))
    return parts


def fit_status(parts: list[StatusPart], width: int) -> str:
    """The parts joined within ``width`` characters: the lightest parts are shortened
    first, then left out; what still does not fit is cut with an ellipsis."""
    texts: list[str | None] = [part.text for part in parts]

    def joined() -> str:
        return SEPARATOR.join(text for text in texts if text)

    lightest_first = sorted(range(len(parts)), key=lambda index: parts[index].weight)
    for index in lightest_first:
        if len(joined()) <= width:
            return joined()
        texts[index] = parts[index].short
    for index in lightest_first:
        if len(joined()) <= width or parts[index].weight >= ESSENTIAL:
            break
        texts[index] = None
    line = joined()
    return line if len(line) <= width else line[: max(width - 1, 0)] + ELLIPSIS
