"""Planned strokes cover every error, never spill, and reproduce their labels when painted."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from cluster.simulate.clear_examples import clear_example_labels, clear_example_plan
from cluster.simulate.corrections import plan_corrections
from cluster.simulate.strokes import (
    AnnotationPlan,
    Stroke,
    dense_labels,
    keyboard_labels,
    paint,
    plan_dense,
)
from cluster.simulate.synthetic import generate_root_image

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
THIN = (1.0, 2.5)
THICK = (5.0, 10.0)


def _roots(seed: int, widths: tuple[float, float], size: int = 192) -> np.ndarray:
    _, mask = generate_root_image(
        seed=seed, height=size, width=size, root_probability=1.0, width_range=widths
    )
    return mask.astype(bool)


def _predictions(truth: np.ndarray) -> dict[str, np.ndarray]:
    shifted = np.roll(truth, (2, -3), axis=(0, 1))
    blob = np.zeros_like(truth)
    blob[10:50, 120:170] = True
    return {
        "too thick": ndimage.binary_dilation(truth, iterations=2),
        "too thin": ndimage.binary_erosion(truth),
        "shifted": shifted,
        "nothing": np.zeros_like(truth),
        "all wrong": ~truth,
        "blobs and gaps": (truth | blob) & ~(np.indices(truth.shape)[0] > 140),
    }


def _assert_sound(plan: AnnotationPlan, truth: np.ndarray, before: np.ndarray) -> None:
    """Zero spill, valid 8-connected paths, and painting gives the plan's labels."""
    labels = plan.labels
    assert not np.any((labels == FOREGROUND) & ~truth), "foreground painted on background"
    assert not np.any((labels == BACKGROUND) & truth), "background painted on an object"
    for stroke in plan.strokes:
        steps = np.abs(np.diff(stroke.path.astype(int), axis=0))
        assert steps.max(initial=1) == 1 and np.all(steps.max(axis=1, initial=1) >= 1)
        alone = paint(np.zeros_like(labels), [stroke]) == stroke.label
        assert np.all(truth[alone] == (stroke.label == FOREGROUND)), "a disk left its class"
    assert np.array_equal(paint(before, plan.strokes), labels)


def _assert_corrected(plan: AnnotationPlan, truth: np.ndarray, predicted: np.ndarray) -> None:
    """Every error pixel labelled with the truth: F1 of the painted class is 1."""
    errors = predicted != truth
    painted_fg = plan.labels[errors] == FOREGROUND
    true_fg = truth[errors]
    assert np.all(plan.labels[errors] != UNLABELLED), "an error pixel left unlabelled"
    tp = np.count_nonzero(painted_fg & true_fg)
    fp = np.count_nonzero(painted_fg & ~true_fg)
    fn = np.count_nonzero(~painted_fg & true_fg)
    if true_fg.any():
        assert 2 * tp / (2 * tp + fp + fn) == 1.0


@pytest.mark.parametrize("widths", [THIN, THICK], ids=["thin", "thick"])
@pytest.mark.parametrize("seed", [11, 12])
def test_corrections_cover_every_error_with_zero_spill(
    widths: tuple[float, float], seed: int
) -> None:
    truth = _roots(seed, widths)
    before = clear_example_labels(truth, rng=np.random.default_rng(seed))
    for name, predicted in _predictions(truth).items():
        plan = plan_corrections(truth, predicted, before)
        _assert_sound(plan, truth, before)
        _assert_corrected(plan, truth, predicted)
        assert plan.error_regions >= 1, name
        assert all(stroke.radius <= 8 for stroke in plan.strokes)
        kept = (before != UNLABELLED) & (plan.labels != before)
        assert not kept.any(), f"{name}: an earlier (true) label changed"
        by_keys = keyboard_labels(plan, before, predicted=predicted)
        assert np.array_equal(by_keys, plan.labels), f"{name}: `x` changed the labels"


def test_an_image_without_objects_and_a_false_blob() -> None:
    truth = np.zeros((96, 128), dtype=bool)
    predicted = np.zeros_like(truth)
    predicted[20:70, 30:100] = True
    plan = plan_corrections(truth, predicted, np.zeros(truth.shape, np.uint8))
    _assert_sound(plan, truth, np.zeros(truth.shape, np.uint8))
    _assert_corrected(plan, truth, predicted)
    assert plan.error_regions == 1
    assert max(stroke.radius for stroke in plan.strokes) == 8, "a wide error gets a big brush"
    centres = sum(len(stroke.path) for stroke in plan.strokes)
    assert centres < 0.25 * predicted.sum(), "a big brush needs far fewer centres than pixels"


def test_a_perfect_prediction_needs_no_strokes() -> None:
    truth = _roots(13, THICK)
    plan = plan_corrections(truth, truth.copy(), np.zeros(truth.shape, np.uint8))
    assert plan.strokes == [] and plan.error_regions == 0
    assert not plan.labels.any()


def test_errors_already_labelled_with_the_truth_are_skipped() -> None:
    truth = _roots(14, THICK)
    predicted = ndimage.binary_dilation(truth, iterations=2)
    first = plan_corrections(truth, predicted, np.zeros(truth.shape, np.uint8))
    again = plan_corrections(truth, predicted, first.labels)
    assert again.strokes == [] and again.error_regions == 0
    assert np.array_equal(again.labels, first.labels)


def test_missed_one_and_two_pixel_roots_are_painted_on_their_pixels() -> None:
    truth = np.zeros((40, 80), dtype=bool)
    truth[10, 5:75] = True  # 1 px wide
    truth[25:27, 5:75] = True  # 2 px wide: no radius-1 disk fits
    plan = plan_corrections(truth, np.zeros_like(truth), np.zeros(truth.shape, np.uint8))
    _assert_sound(plan, truth, np.zeros(truth.shape, np.uint8))
    assert np.all(plan.labels[truth] == FOREGROUND)
    assert {stroke.radius for stroke in plan.strokes} == {0}
    assert len(plan.strokes) <= 4, "each thin root takes a stroke or two, not many dabs"


def test_small_regions_can_be_left_alone() -> None:
    truth = np.zeros((64, 64), dtype=bool)
    predicted = np.zeros_like(truth)
    predicted[5, 5] = True  # a one-pixel speck
    predicted[30:40, 30:40] = True
    plan = plan_corrections(truth, predicted, np.zeros(truth.shape, np.uint8), min_region_pixels=4)
    assert plan.error_regions == 1
    assert plan.labels[5, 5] == UNLABELLED and np.all(plan.labels[30:40, 30:40] == BACKGROUND)


def test_correction_planning_is_fast_on_a_512_image() -> None:
    truth = _roots(15, (1.0, 8.0), size=512)
    predicted = truth.copy()
    rng = np.random.default_rng(0)
    for row, col in rng.integers(20, 490, size=(12, 2)):
        predicted[row : row + 5, col : col + 5] ^= True  # a few hundred error pixels
    start = time.perf_counter()
    plan = plan_corrections(truth, predicted, np.zeros(truth.shape, np.uint8))
    elapsed = time.perf_counter() - start
    _assert_corrected(plan, truth, predicted)
    assert elapsed < 1.0, f"planning took {elapsed:.2f} s"


@pytest.mark.parametrize("band", [0, 1, 2])
def test_dense_plan_labels_everything_but_the_boundary_band(band: int) -> None:
    truth = _roots(16, (1.0, 8.0), size=128)
    plan = plan_dense(truth, band=band)
    empty = np.zeros(truth.shape, np.uint8)
    _assert_sound(plan, truth, empty)
    assert np.array_equal(plan.labels, dense_labels(truth, band=band))
    to_edge = np.where(
        truth, ndimage.distance_transform_edt(truth), ndimage.distance_transform_edt(~truth)
    )
    assert np.all((plan.labels == UNLABELLED) == (to_edge <= band))
    assert max(stroke.radius for stroke in plan.strokes) >= 8, "areas are filled with a big brush"
    assert plan.keyboard, "the big background area gets box fills"
    assert np.array_equal(keyboard_labels(plan, empty), plan.labels)


def test_every_x_able_region_is_a_whole_false_positive_component() -> None:
    rng = np.random.default_rng(5)
    truth = _roots(13, THIN)
    predicted = ndimage.binary_dilation(truth) | (rng.random(truth.shape) > 0.997)
    predicted = ndimage.binary_dilation(predicted, iterations=2) & ~ndimage.binary_erosion(truth)
    empty = np.zeros(truth.shape, np.uint8)
    plan = plan_corrections(truth, predicted, empty)
    assert len(plan.keyboard) >= 3, "scattered specks are x-able"
    components, _ = ndimage.label(predicted, structure=np.ones((3, 3), bool))
    for group, (shortcut,) in plan.keyboard.items():
        y, x = shortcut.points[0]
        component = components == components[y, x]
        assert not (component & truth).any()
        strokes = [stroke for stroke in plan.strokes if stroke.group == group]
        assert np.array_equal(paint(empty, strokes) == BACKGROUND, component), "paint = `x`"
    _assert_sound(plan, truth, empty)
    _assert_corrected(plan, truth, predicted)
    assert np.array_equal(keyboard_labels(plan, empty, predicted=predicted), plan.labels)


def test_clear_example_plan_paints_its_labels_foreground_first() -> None:
    truth = _roots(17, (1.0, 8.0), size=256)
    plan = clear_example_plan(truth, rng=np.random.default_rng(5))
    empty = np.zeros(truth.shape, np.uint8)
    _assert_sound(plan, truth, empty)
    assert np.array_equal(plan.labels, clear_example_labels(truth, rng=np.random.default_rng(5)))
    classes = [stroke.label for stroke in plan.strokes]
    assert classes[0] == FOREGROUND and classes[-1] == BACKGROUND
    assert classes == sorted(classes, reverse=True), "minority class first, then background"
    assert plan.error_regions == 0 and plan.groups > 1


def test_clear_examples_add_to_earlier_labels() -> None:
    truth = _roots(18, THICK)
    earlier = np.zeros(truth.shape, np.uint8)
    earlier[truth] = FOREGROUND
    plan = clear_example_plan(truth, earlier, rng=np.random.default_rng(1))
    assert np.all(plan.labels[truth] == FOREGROUND)
    assert np.any(plan.labels == BACKGROUND)


def test_strokes_reject_bad_input() -> None:
    with pytest.raises(ValueError):
        Stroke(UNLABELLED, 1, np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError):
        Stroke(FOREGROUND, 1, np.zeros((0, 2), np.int32))
    with pytest.raises(ValueError):
        plan_corrections(np.zeros((4, 4)), np.zeros((4, 5)), np.zeros((4, 4), np.uint8))


@pytest.mark.skipif(not (DATA / "switchgrass").is_dir(), reason="no shared data")
def test_corrections_on_a_real_root_mask() -> None:
    from cluster.io.images import read_mask

    path = sorted((DATA / "switchgrass" / "masks").glob("*.png"))[0]
    truth = read_mask(path, kind="binary").astype(bool)
    predicted = ndimage.binary_dilation(truth, iterations=2) & ~ndimage.binary_erosion(
        truth, iterations=3
    )
    before = np.zeros(truth.shape, np.uint8)
    plan = plan_corrections(truth, predicted, before)
    _assert_sound(plan, truth, before)
    _assert_corrected(plan, truth, predicted)
