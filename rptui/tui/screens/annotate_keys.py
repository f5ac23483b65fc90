"""The annotate screen's keys (each binding has an id, so a user can remap it) and its help."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding, BindingType

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from rptui.session.review import ReviewSession
from rptui.session.stack import uses_stack_keys
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.screens.help import binding_rows, class_rows, project_bindings, screen_keys

CLASS_KEYS = 9  # keys 1-9 choose the class to paint
CLASS_BINDINGS = [
    Binding(str(n), f"choose_class({n})", f"Class {n}", show=False, id=f"annotate.class_{n}")
    for n in range(1, CLASS_KEYS + 1)
]

ANNOTATE_BINDINGS: list[BindingType] = [
    Binding("q", f"brush({FOREGROUND})", "Foreground", id="annotate.brush_foreground"),
    Binding("w", f"brush({BACKGROUND})", "Background", id="annotate.brush_background"),
    Binding("e", f"brush({UNLABELLED})", "Eraser", id="annotate.brush_eraser"),
    Binding("z", "undo", "Undo", id="annotate.undo"),
    Binding("shift+z", "redo", "Redo", key_display="Z", id="annotate.redo"),
    Binding("space", "point", "Point", show=False, id="annotate.point"),
    Binding("d", "pen", "Pen down/up", show=False, id="annotate.pen"),
    Binding(
        "left_square_bracket",
        "brush_size(-1)",
        "Smaller brush",
        key_display="[",
        show=False,
        id="annotate.brush_smaller",
    ),
    Binding(
        "right_square_bracket",
        "brush_size(1)",
        "Larger brush",
        key_display="]",
        show=False,
        id="annotate.brush_larger",
    ),
    Binding("enter", "accept", "Accept", id="annotate.accept"),
    Binding("n", "skip", "Skip", id="annotate.skip"),
    Binding("p", "previous", "Previous", show=False, id="annotate.previous"),
    Binding("g", "goto", "Go to", show=False, id="annotate.goto"),
    Binding("x", "false_positive", "Not a root", show=False, id="annotate.false_positive"),
    Binding("r", "box", "Box fill", show=False, id="annotate.box_fill"),
    Binding("t", "training", "Train", id="annotate.training"),
    Binding("u", "resegment", "Re-segment", show=False, id="annotate.resegment"),
    Binding("v", "toggle_order", "Serve order", show=False, id="annotate.order"),
    Binding("question_mark", "help", "Keys", key_display="?", id="annotate.help"),
    Binding("pageup", "slice(-1)", "Previous slice", show=False, id="annotate.slice_previous"),
    Binding("pagedown", "slice(1)", "Next slice", show=False, id="annotate.slice_next"),
    *CLASS_BINDINGS,
]


def help_rows(app: App[object], session: ReviewSession) -> list[tuple[str, str]]:
    """(keys, what they do) of every key of the annotate screen, as the user has them
    mapped: the class keys this project has, the slice keys where there are stacks."""
    classes = session.brush.classes
    bindings = [*ANNOTATE_BINDINGS, *AnnotationCanvas.BINDINGS, *screen_keys(app)]
    stacks = session.viewer.is_stack or uses_stack_keys(session.project)
    shown = project_bindings(bindings, classes=classes, stacks=stacks)
    return class_rows(binding_rows(shown, dict(app._keymap)), classes)
