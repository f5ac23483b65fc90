"""How long a user takes to paint an annotation plan, with a mouse or with the keyboard.

Both models add a confirmation scan per image, a visual search per error region (per
stroke group where the plan has no error regions), the painting itself and the moves
between strokes. The mouse model is RootPainter's benchmark's: painting at 400 px/s
sampled at 120 Hz, repositioning at 800 px/s, 200 ms per search and per check.

The keyboard model follows what our annotate screen does: an arrow key moves the cursor
one view pixel (``max(1, round(scale))`` image pixels at the current zoom), ``d`` puts
the pen down or lifts it (cursor moves paint while it is down), space paints a dab,
``q``/``w`` pick the foreground/background brush (each keeps its own size), ``[``/``]``
change the size by one pixel, ``+``/``-`` halve or double the zoom around the cursor.
The user starts at fit zoom and, when ``precise_zoom``, zooms in until a cursor step is
no longer than the brush radius (one pixel for thin brushes) before painting a stroke;
a move between strokes is made at whichever zoom level is quickest, with fine steps for
the rest. A run of presses of one key costs the cheaper of tapping each (``key_tap_s``)
and holding the key: ``first_repeat_delay_s`` then ``key_repeat_hz`` repeats per second.

The keyboard user also has the app's one-key edits (:mod:`cluster.simulate.shortcuts`): ``x``
on a wholly false-positive predicted region, ``r`` ``r`` box fills. Where a plan offers
such an alternative for a stroke group, the keyboard model prices the cheaper of
painting the group and the alternative (moving the cursor precisely enough to each
point, zoomed in as for a brush of the point's ``reach``, plus one key per point). The
mouse model always prices the strokes: RootPainter has neither edit.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from cluster.simulate.shortcuts import Shortcut
from cluster.simulate.strokes import AnnotationPlan, Stroke

# Unit cursor keys: (axis, sign) -> key id.
KEY_IDS = {(0, -1): 0, (0, 1): 1, (1, -1): 2, (1, 1): 3}


@dataclass(frozen=True)
class MouseTimeModel:
    """RootPainter's simulated mouse user (rates in image pixels)."""

    paint_px_per_s: float = 400.0
    event_hz: float = 120.0  # one event per ~8.3 ms; a dab is one event
    move_px_per_s: float = 800.0
    search_s: float = 0.2  # visual search before each error region
    check_s: float = 0.2  # confirmation scan per image
    brush_change_s: float = 0.0  # per brush-size change (RootPainter's benchmark: none)
    class_switch_s: float = 0.0  # per change of class (RootPainter's benchmark: none)


@dataclass(frozen=True)
class KeyboardTimeModel:
    """A terminal user steering the cursor with arrow keys (see the module docstring).

    ``key_repeat_hz`` 30 and ``first_repeat_delay_s`` 0.5 are the usual desktop
    defaults (GNOME: 500 ms delay, 30 ms interval; Windows: 500 ms, ~30/s). A deliberate
    key tap, including aiming, takes ``key_tap_s``. ``pixels_per_step`` is the cursor
    step at fit zoom; None derives it from the image and a ``view_rows`` x ``view_cols``
    view (half-block cells: a 192 x 48 cell terminal canvas is 192 x 96 view pixels).
    """

    key_repeat_hz: float = 30.0
    first_repeat_delay_s: float = 0.5
    key_tap_s: float = 0.15
    pixels_per_step: int | None = None
    view_rows: int = 96
    view_cols: int = 192
    pen_toggle_s: float = 0.15  # `d`
    dab_s: float = 0.15  # space
    brush_key_s: float = 0.15  # `q` / `w`; `[` / `]` are runs of key presses
    zoom_key_s: float = 0.3  # `+` / `-`, with a glance to find the cursor again
    search_s: float = 0.2
    check_s: float = 0.2
    precise_zoom: bool = True

    def run_seconds(self, presses: int) -> float:
        """Time for ``presses`` presses of one key: tapped, or held down to auto-repeat."""
        if presses <= 0:
            return 0.0
        tapped = presses * self.key_tap_s
        held = self.key_tap_s + self.first_repeat_delay_s + (presses - 2) / self.key_repeat_hz
        return tapped if presses < 2 else min(tapped, held)

    def fit_step(self, image_shape: tuple[int, int]) -> int:
        """Image pixels per cursor step at fit zoom."""
        if self.pixels_per_step is not None:
            return max(1, int(self.pixels_per_step))
        scale = max(image_shape[0] / self.view_rows, image_shape[1] / self.view_cols, 1.0)
        return max(1, round(scale))


def _searches(plan: AnnotationPlan) -> int:
    return plan.error_regions if plan.error_regions > 0 else plan.groups


def mouse_reach_seconds(
    stroke: Stroke, model: MouseTimeModel, position: np.ndarray, previous: Stroke | None
) -> float:
    """Seconds before ``stroke`` paints: the move from ``position`` and any brush changes
    since the ``previous`` stroke (None: class and size already chosen)."""
    seconds = float(np.hypot(*(stroke.path[0] - position))) / model.move_px_per_s
    if previous is not None and stroke.label != previous.label:
        seconds += model.class_switch_s
    if previous is not None and stroke.radius != previous.radius:
        seconds += model.brush_change_s
    return seconds


def mouse_paint_seconds(stroke: Stroke, model: MouseTimeModel) -> float:
    """Seconds of painting ``stroke`` (a dab is one mouse event)."""
    return max(stroke.length / model.paint_px_per_s, 1.0 / model.event_hz)


def _mouse_seconds(plan: AnnotationPlan, model: MouseTimeModel, start: np.ndarray) -> float:
    total = model.check_s + model.search_s * _searches(plan)
    position, previous = start, None
    for stroke in plan.strokes:
        total += mouse_reach_seconds(stroke, model, position, previous)
        total += mouse_paint_seconds(stroke, model)
        position, previous = stroke.path[-1], stroke
    return total


def _step(fit: int, zoom: int) -> int:
    """Cursor step after ``zoom`` zoom-ins from fit (the scale halves each time)."""
    return max(1, round(fit / 2**zoom))


def _zoom_for(fit: int, radius: int) -> int:
    """Fewest zoom-ins from fit that make a cursor step no longer than the brush allows."""
    need, zoom = max(1, radius), 0
    while _step(fit, zoom) > need:
        zoom += 1
    return zoom


def _key_runs(path: np.ndarray, step: int) -> list[int]:
    """Lengths of runs of one arrow key that steer the cursor along ``path``."""
    keys: list[int] = []
    counts = [0, 0, 0, 0]
    for dr, dc in np.diff(path, axis=0).tolist():
        for axis, delta in ((0, dr), (1, dc)):
            if delta:
                key = KEY_IDS[(axis, 1 if delta > 0 else -1)]
                counts[key] += 1
                if counts[key] >= step:
                    counts[key] = 0
                    keys.append(key)
    keys += [key for key in range(4) if 2 * counts[key] >= step and counts[key]]
    runs: list[int] = []
    for n, key in enumerate(keys):
        if n and key == keys[n - 1]:
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


def _move_seconds(
    model: KeyboardTimeModel, delta: np.ndarray, fit: int, zoom_from: int, zoom_to: int
) -> tuple[float, int]:
    """Quickest move by ``delta`` pixels ending at zoom ``zoom_to``: (seconds, zoom used)."""
    fine = _step(fit, zoom_to)
    best = (math.inf, zoom_to)
    for zoom in range(0, max(zoom_from, zoom_to) + 1):
        coarse = _step(fit, zoom)
        zooms = abs(zoom_from - zoom) + abs(zoom - zoom_to)
        seconds = zooms * model.zoom_key_s
        for distance in np.abs(delta).tolist():
            big, rest = divmod(int(distance), coarse)
            seconds += model.run_seconds(big) + model.run_seconds(math.ceil(rest / fine))
        best = min(best, (seconds, zoom))
    return best


@dataclass
class _Cursor:
    """Where the keyboard user is: cursor, zoom, brush class and each class's radius."""

    position: np.ndarray
    zoom: int = 0
    label: int | None = None
    radii: dict[int, int] = field(default_factory=dict)

    def copy(self) -> _Cursor:
        return _Cursor(self.position, self.zoom, self.label, dict(self.radii))


def _pick_class(cursor: _Cursor, label: int, model: KeyboardTimeModel) -> float:
    """Seconds to make ``label`` the brush class (the first class is already chosen)."""
    seconds = 0.0
    if cursor.label is not None and label != cursor.label:
        seconds = model.brush_key_s
    cursor.label = label
    return seconds


def _stroke_seconds(stroke: Stroke, model: KeyboardTimeModel, fit: int, cursor: _Cursor) -> float:
    total = _pick_class(cursor, stroke.label, model)
    radius = cursor.radii.setdefault(stroke.label, stroke.radius)
    if radius != stroke.radius:
        total += model.run_seconds(abs(radius - stroke.radius))
        cursor.radii[stroke.label] = stroke.radius
    target = _zoom_for(fit, stroke.radius) if model.precise_zoom else 0
    seconds, _ = _move_seconds(model, stroke.path[0] - cursor.position, fit, cursor.zoom, target)
    total += seconds + _paint_seconds(stroke, model, _step(fit, target))
    cursor.position, cursor.zoom = stroke.path[-1], target
    return total


def _shortcut_seconds(
    shortcut: Shortcut, model: KeyboardTimeModel, fit: int, cursor: _Cursor
) -> float:
    """Moves to each point (precise enough for ``reach``) and one key press at each."""
    total = _pick_class(cursor, shortcut.label, model) if shortcut.kind == "box" else 0.0
    target = _zoom_for(fit, shortcut.reach)
    for point in shortcut.points:
        seconds, _ = _move_seconds(model, point - cursor.position, fit, cursor.zoom, target)
        total += seconds + model.key_tap_s
        cursor.position, cursor.zoom = point, target
    return total


def _actions_seconds(
    actions: list[Stroke | Shortcut], model: KeyboardTimeModel, fit: int, cursor: _Cursor
) -> float:
    return sum(
        _stroke_seconds(a, model, fit, cursor)
        if isinstance(a, Stroke)
        else _shortcut_seconds(a, model, fit, cursor)
        for a in actions
    )


def _keyboard_seconds(
    plan: AnnotationPlan, model: KeyboardTimeModel, start: np.ndarray, fit: int
) -> float:
    """Each stroke group painted, or its keyboard alternative where that is quicker."""
    total = model.check_s + model.search_s * _searches(plan)
    cursor = _Cursor(start)
    for group, strokes in itertools.groupby(plan.strokes, key=lambda s: s.group):
        painted = cursor.copy()
        best = _actions_seconds(list(strokes), model, fit, painted), painted
        if group in plan.keyboard:
            other = cursor.copy()
            best = min(
                best,
                (_actions_seconds(plan.keyboard[group], model, fit, other), other),
                key=lambda option: option[0],
            )
        total += best[0]
        cursor = best[1]
    return total


def _paint_seconds(stroke: Stroke, model: KeyboardTimeModel, step: int) -> float:
    if len(stroke.path) == 1:
        return model.dab_s
    runs = _key_runs(stroke.path, step)
    return 2 * model.pen_toggle_s + sum(model.run_seconds(n) for n in runs)


def start_position(image_shape: tuple[int, int]) -> np.ndarray:
    """Where the pointer or cursor is when an image is shown: its centre (row, col)."""
    return np.array([image_shape[0] // 2, image_shape[1] // 2])


def annotation_seconds(
    plan: AnnotationPlan,
    model: MouseTimeModel | KeyboardTimeModel,
    *,
    image_shape: tuple[int, int],
) -> float:
    """Seconds a user takes to paint ``plan`` on an image of ``image_shape`` (H, W).

    The pointer or cursor starts at the image centre; the first stroke's class and
    brush size are taken as already chosen.
    """
    start = start_position(image_shape)
    if isinstance(model, MouseTimeModel):
        return _mouse_seconds(plan, model, start)
    return _keyboard_seconds(plan, model, start, model.fit_step(image_shape))
