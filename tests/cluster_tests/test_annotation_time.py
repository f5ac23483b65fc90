"""The time models: RootPainter's mouse figures, and a keyboard that pays per key press."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND
from cluster.simulate.annotation_time import KeyboardTimeModel, MouseTimeModel, annotation_seconds
from cluster.simulate.corrections import plan_corrections
from cluster.simulate.strokes import (
    AnnotationPlan,
    Stroke,
    keyboard_labels,
    paint,
    plan_dense,
)
from cluster.simulate.synthetic import generate_root_image

SHAPE = (512, 512)
CENTRE = (256, 256)
MOUSE = MouseTimeModel()


def _horizontal(
    row: int, col: int, length: int, *, label: int = FOREGROUND, radius: int = 2
) -> Stroke:
    cols = np.arange(col, col + length + 1)
    path = np.stack([np.full(cols.size, row), cols], axis=1).astype(np.int32)
    return Stroke(label, radius, path)


def _plan(*strokes: Stroke, regions: int = 0) -> AnnotationPlan:
    return AnnotationPlan(list(strokes), paint(np.zeros(SHAPE, np.uint8), strokes), regions)


def test_an_empty_plan_costs_the_confirmation_scan() -> None:
    assert annotation_seconds(_plan(), MOUSE, image_shape=SHAPE) == pytest.approx(0.2)
    keyboard = annotation_seconds(_plan(), KeyboardTimeModel(), image_shape=SHAPE)
    assert keyboard == pytest.approx(0.2)


@pytest.mark.parametrize("length", [40, 200, 400])
def test_a_straight_mouse_stroke_paints_at_400_px_per_s(length: int) -> None:
    plan = _plan(_horizontal(*CENTRE, length))  # starts under the pointer: no move
    seconds = annotation_seconds(plan, MOUSE, image_shape=SHAPE)
    assert seconds == pytest.approx(0.2 + 0.2 + length / 400.0)  # check + one search + paint


def test_moving_between_strokes_goes_at_800_px_per_s() -> None:
    first = _horizontal(*CENTRE, 100)
    second = _horizontal(256 - 240, 356 - 320, 100)  # 240 up, 320 left of its end: 400 px
    alone = annotation_seconds(_plan(first), MOUSE, image_shape=SHAPE)
    both = annotation_seconds(_plan(first, second), MOUSE, image_shape=SHAPE)
    assert both - alone == pytest.approx(400 / 800 + 100 / 400)  # one group: move and paint


def test_a_dab_is_one_mouse_event() -> None:
    dab = Stroke(BACKGROUND, 3, np.array([CENTRE], np.int32))
    seconds = annotation_seconds(_plan(dab), MOUSE, image_shape=SHAPE)
    assert seconds == pytest.approx(0.2 + 0.2 + 1 / 120)


def test_one_search_per_error_region() -> None:
    strokes = [_horizontal(100, 100, 20), _horizontal(110, 100, 20), _horizontal(120, 100, 20)]
    one = annotation_seconds(_plan(*strokes, regions=1), MOUSE, image_shape=SHAPE)
    three = annotation_seconds(_plan(*strokes, regions=3), MOUSE, image_shape=SHAPE)
    assert three - one == pytest.approx(2 * 0.2)


def test_the_keyboard_is_slower_than_the_mouse_for_long_strokes_at_fit_zoom() -> None:
    keyboard = KeyboardTimeModel()
    for length in (50, 200, 450):
        plan = _plan(_horizontal(*CENTRE, length, radius=8))
        mouse_s = annotation_seconds(plan, MOUSE, image_shape=SHAPE)
        keyboard_s = annotation_seconds(plan, keyboard, image_shape=SHAPE)
        assert keyboard_s > mouse_s


def test_keyboard_time_grows_with_the_number_of_key_presses() -> None:
    times = [
        annotation_seconds(
            _plan(_horizontal(*CENTRE, length, radius=8)),
            KeyboardTimeModel(pixels_per_step=1),
            image_shape=SHAPE,
        )
        for length in (1, 2, 5, 20, 100, 400)
    ]
    assert times == sorted(times) and len(set(times)) == len(times)
    plan = _plan(_horizontal(*CENTRE, 200, radius=8))
    by_step = [
        annotation_seconds(plan, KeyboardTimeModel(pixels_per_step=step), image_shape=SHAPE)
        for step in (1, 2, 4, 8)
    ]
    assert by_step == sorted(by_step, reverse=True), "bigger cursor steps, fewer presses"
    presses = [KeyboardTimeModel().run_seconds(n) for n in range(0, 200)]
    assert all(b > a for a, b in itertools.pairwise(presses))


def test_holding_a_key_beats_tapping_it_for_long_runs() -> None:
    model = KeyboardTimeModel()
    assert model.run_seconds(1) == pytest.approx(model.key_tap_s)
    assert model.run_seconds(100) == pytest.approx(
        model.key_tap_s + model.first_repeat_delay_s + 98 / model.key_repeat_hz
    )
    assert model.run_seconds(100) < 100 * model.key_tap_s


def test_keyboard_pays_for_brush_class_and_size_switches() -> None:
    model = KeyboardTimeModel(pixels_per_step=1)
    fg = _horizontal(*CENTRE, 30, radius=2)
    bg = _horizontal(300, 286, 30, label=BACKGROUND, radius=2)
    bg_wide = _horizontal(300, 286, 30, label=BACKGROUND, radius=6)
    same_class = _horizontal(300, 286, 30, radius=2)
    switch = annotation_seconds(_plan(fg, bg), model, image_shape=SHAPE)
    stay = annotation_seconds(_plan(fg, same_class), model, image_shape=SHAPE)
    assert switch - stay == pytest.approx(model.brush_key_s)
    resized = annotation_seconds(_plan(fg, bg, bg_wide), model, image_shape=SHAPE)
    plain = annotation_seconds(_plan(fg, bg, bg), model, image_shape=SHAPE)
    assert resized - plain == pytest.approx(model.run_seconds(4))


def test_thin_strokes_make_the_keyboard_user_zoom_in() -> None:
    thin = _plan(_horizontal(*CENTRE, 100, radius=0))
    zoomed = annotation_seconds(thin, KeyboardTimeModel(), image_shape=SHAPE)
    sloppy = annotation_seconds(thin, KeyboardTimeModel(precise_zoom=False), image_shape=SHAPE)
    assert zoomed > sloppy


def test_correcting_a_real_plan_takes_plausible_time() -> None:
    _, mask = generate_root_image(seed=21, root_probability=1.0)
    truth = mask.astype(bool)
    predicted = ndimage.binary_dilation(truth, iterations=2)
    plan = plan_corrections(truth, predicted, np.zeros(truth.shape, np.uint8))
    mouse_s = annotation_seconds(plan, MOUSE, image_shape=truth.shape)
    keyboard_s = annotation_seconds(plan, KeyboardTimeModel(), image_shape=truth.shape)
    painted = sum(stroke.length for stroke in plan.strokes) / 400.0
    assert painted + 0.2 < mouse_s < 600
    assert keyboard_s > mouse_s


def _root_with_blob(*, touching: bool) -> tuple[np.ndarray, np.ndarray]:
    """A horizontal root and a prediction of it plus a round false-positive blob."""
    truth = np.zeros(SHAPE, bool)
    truth[250:256, 40:470] = True
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    centre = (262, 300) if touching else (120, 380)
    blob = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= 12**2
    return truth, truth | blob


def test_a_wholly_false_positive_blob_costs_the_keyboard_a_move_and_one_key() -> None:
    truth, predicted = _root_with_blob(touching=False)
    plan = plan_corrections(truth, predicted, np.zeros(SHAPE, np.uint8))
    assert plan.error_regions == 1 and list(plan.keyboard) == [0]
    model = KeyboardTimeModel()
    with_x = annotation_seconds(plan, model, image_shape=SHAPE)
    painted = annotation_seconds(replace(plan, keyboard={}), model, image_shape=SHAPE)
    point = plan.keyboard[0][0].points[0]
    move = np.abs(point - np.array(CENTRE)).sum() / model.fit_step(SHAPE) / model.key_repeat_hz
    one_key = model.check_s + model.search_s + model.key_tap_s
    assert with_x < one_key + 2 * model.first_repeat_delay_s + move + 3 * model.zoom_key_s
    assert with_x < painted / 3


def test_a_false_positive_touching_true_foreground_is_not_x_able() -> None:
    truth, predicted = _root_with_blob(touching=True)
    plan = plan_corrections(truth, predicted, np.zeros(SHAPE, np.uint8))
    assert plan.error_regions == 1 and plan.keyboard == {}


def test_the_keyboard_box_fills_the_background_of_an_empty_image_quickly() -> None:
    plan = plan_dense(np.zeros(SHAPE, bool))
    model = KeyboardTimeModel()
    boxed = annotation_seconds(plan, model, image_shape=SHAPE)
    swept = annotation_seconds(replace(plan, keyboard={}), model, image_shape=SHAPE)
    assert boxed < swept / 4
    assert boxed < annotation_seconds(plan, MOUSE, image_shape=SHAPE), "two marks beat sweeps"
    assert np.array_equal(keyboard_labels(plan, np.zeros(SHAPE, np.uint8)), plan.labels)


def test_the_mouse_never_uses_the_keyboard_shortcuts() -> None:
    truth, predicted = _root_with_blob(touching=False)
    plans = [plan_corrections(truth, predicted, np.zeros(SHAPE, np.uint8)), plan_dense(truth)]
    for plan in plans:
        assert plan.keyboard
        strokes_only = replace(plan, keyboard={})
        mouse_s = annotation_seconds(plan, MOUSE, image_shape=SHAPE)
        assert mouse_s == annotation_seconds(strokes_only, MOUSE, image_shape=SHAPE)
        assert mouse_s > 0.2 + sum(stroke.length for stroke in plan.strokes) / 400.0
