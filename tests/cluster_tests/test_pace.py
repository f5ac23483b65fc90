"""The simulated user works at a human pace: priced within its budget, largest errors first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage.transform import resize

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from cluster.simulate.annotation_time import KeyboardTimeModel, MouseTimeModel, annotation_seconds
from cluster.simulate.clear_examples import CLEAR_EXAMPLE_SECONDS, clear_example_plan
from cluster.simulate.corrections import plan_corrections
from cluster.simulate.dense import EIGHT_CONNECTED
from cluster.simulate.pace import WORTH_CORRECTING_PX, MouseBudget, plan_paced_corrections
from cluster.simulate.strokes import AnnotationPlan, Stroke, keyboard_labels, paint

PEANUT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "peanut"
UNSEEN_SHAPE = (1136, 1275)  # rows, cols of the half-resolution photos of the unseen set
CLEAR_LIMIT_S = 60.0
CORRECTION_S = 40.0
MOUSE = MouseTimeModel()
EMPTY = np.zeros((96, 160), np.uint8)


def _mouse(plan: AnnotationPlan, shape: tuple[int, int]) -> float:
    return annotation_seconds(plan, MOUSE, image_shape=shape)


def _spill(labels: np.ndarray, truth: np.ndarray) -> int:
    return int(np.count_nonzero((labels == FOREGROUND) & ~truth | (labels == BACKGROUND) & truth))


def _shown(truth: np.ndarray, seed: int) -> np.ndarray:
    """A young model's segmentation: roots too thick, stretches missed, specks and blobs."""
    rng = np.random.default_rng(seed)
    missed = ndimage.gaussian_filter(rng.random(truth.shape), 20) > 0.5
    blobs = ndimage.gaussian_filter(rng.random(truth.shape), 3)
    specks = rng.random(truth.shape) > 0.996
    return (ndimage.binary_dilation(truth) & ~missed) | (blobs > np.quantile(blobs, 0.985)) | specks


def _error_regions(truth: np.ndarray, shown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H x W ids of the 8-connected error regions of both classes, pixels per id)."""
    false_pos, n_fp = ndimage.label(shown & ~truth, structure=EIGHT_CONNECTED)
    false_neg, _ = ndimage.label(~shown & truth, structure=EIGHT_CONNECTED)
    ids = np.where(false_neg > 0, false_neg + n_fp, false_pos)
    return ids, np.bincount(ids.ravel())


def _peanut_masks() -> list[np.ndarray]:
    from cluster.io.images import read_mask

    paths = sorted((PEANUT / "masks").glob("*.png"))
    return [read_mask(path, kind="binary").astype(bool) for path in paths[::90]]


def _upscaled(mask: np.ndarray) -> np.ndarray:
    return resize(mask.astype(np.float32), UNSEEN_SHAPE, order=0, anti_aliasing=False) > 0.5


@pytest.mark.skipif(not PEANUT.is_dir(), reason="../shared/data/peanut is absent")
def test_real_photos_get_clear_examples_and_corrections_within_their_budgets() -> None:
    keyboard = KeyboardTimeModel()
    for index, mask in enumerate(_peanut_masks()):
        for truth in (mask, _upscaled(mask)):
            shape = truth.shape
            clear = clear_example_plan(truth, rng=np.random.default_rng(index))
            fg = np.count_nonzero(clear.labels == FOREGROUND)
            bg = np.count_nonzero(clear.labels == BACKGROUND)
            assert _spill(clear.labels, truth) == 0
            assert fg > 0 and 0 < bg <= 10 * fg, "about 8x background, never over 10x"
            assert _mouse(clear, shape) <= min(CLEAR_EXAMPLE_SECONDS, CLEAR_LIMIT_S) + 1e-6
            shown = _shown(truth, index)
            plan = plan_paced_corrections(truth, shown, clear.labels, seconds=CORRECTION_S)
            assert plan.error_regions > 0 and _spill(plan.labels, truth) == 0
            assert _mouse(plan, shape) <= CORRECTION_S + 1e-6
            assert annotation_seconds(plan, keyboard, image_shape=shape) > 0
            assert np.array_equal(keyboard_labels(plan, clear.labels, predicted=shown), plan.labels)
            _assert_largest_first(plan, truth, shown, clear.labels)


def _assert_largest_first(
    plan: AnnotationPlan, truth: np.ndarray, shown: np.ndarray, before: np.ndarray
) -> None:
    """The first group covers the largest error region (by pixels still needing a label);
    every region corrected in full is at least as large as any left untouched."""
    wanted = np.where(truth, FOREGROUND, BACKGROUND)
    ids, sizes = _error_regions(truth, shown)
    need = (before != wanted) & (ids > 0)
    needed = np.bincount(ids[need], minlength=sizes.size)
    fixed = np.bincount(ids[need & (plan.labels == wanted)], minlength=sizes.size)
    worth = (sizes >= WORTH_CORRECTING_PX) & (needed > 0)
    worth[0] = False
    largest = int(np.argmax(np.where(worth, needed, -1)))
    first = paint(np.zeros_like(before), [s for s in plan.strokes if s.group == 0])
    region = need & (ids == largest)
    assert np.all(first[region] == wanted[region]), "the largest error comes first"
    whole = np.sort(needed[worth & (fixed == needed)])[::-1]
    untouched = needed[worth & (fixed == 0)]
    assert untouched.size, "40 s do not correct everything on these photos"
    assert whole[: plan.error_regions - 1].min() >= untouched.max()


def _root_and_blobs() -> tuple[np.ndarray, np.ndarray]:
    truth = np.zeros(EMPTY.shape, bool)
    truth[40:44, 10:150] = True
    shown = truth.copy()
    shown[5:25, 20:60] = True  # 800 px of false positive
    shown[70:80, 100:110] = True  # 100 px
    shown[41:43, 60:120] = False  # 120 px missed
    shown[88, 5] = True  # a speck, not worth a stroke
    return truth, shown


def test_a_generous_budget_corrects_every_region_worth_it_largest_first() -> None:
    truth, shown = _root_and_blobs()
    plan = plan_paced_corrections(truth, shown, EMPTY, seconds=None)
    assert plan.error_regions == 3, "the one-pixel speck is not worth correcting"
    firsts = [next(s for s in plan.strokes if s.group == g).path[0] for g in range(3)]
    assert [bool(shown[tuple(p)] and not truth[tuple(p)]) for p in firsts] == [True, False, True]
    assert firsts[0][0] < 25 and firsts[2][0] >= 70, "800 px, then 120 px, then 100 px"
    assert plan.labels[88, 5] == UNLABELLED
    everything = plan_corrections(truth, shown, EMPTY)
    worth = everything.labels.copy()
    worth[88, 5] = UNLABELLED
    assert np.array_equal(plan.labels, worth), "the same labels as full coverage, but the speck"


def test_a_short_budget_stops_within_it_and_offers_x_only_for_whole_regions() -> None:
    truth, shown = _root_and_blobs()
    full = plan_paced_corrections(truth, shown, EMPTY, seconds=None)
    seconds = 0.5 * _mouse(full, truth.shape)
    plan = plan_paced_corrections(truth, shown, EMPTY, seconds=seconds)
    assert 0 < plan.error_regions < full.error_regions
    assert seconds - 0.25 < _mouse(plan, truth.shape) <= seconds, "it stops when time is up"
    assert _spill(plan.labels, truth) == 0
    assert set(plan.keyboard) <= {s.group for s in plan.strokes}
    assert np.array_equal(keyboard_labels(plan, EMPTY, predicted=shown), plan.labels)


def test_nothing_worth_correcting_or_no_time_gives_an_empty_plan() -> None:
    truth, shown = _root_and_blobs()
    specks = truth.copy()
    specks[10, 10] = specks[60, 80] = True
    assert plan_paced_corrections(truth, specks, EMPTY, seconds=40.0).error_regions == 0
    hurried = plan_paced_corrections(truth, shown, EMPTY, seconds=MOUSE.check_s)
    assert hurried.strokes == [] and hurried.error_regions == 0
    assert _mouse(hurried, truth.shape) == pytest.approx(MOUSE.check_s)


def test_the_stroke_during_which_time_runs_out_is_cut_there() -> None:
    shape = (96, 1000)
    path = np.stack([np.full(800, 48), np.arange(100, 900)], axis=1).astype(np.int32)
    budget = MouseBudget(1.0, image_shape=shape)
    kept, whole = budget.take([Stroke(FOREGROUND, 1, path)])  # 2 s of painting
    assert not whole and len(kept) == 1 and 0 < len(kept[0].path) < len(path)
    plan = AnnotationPlan(kept, paint(np.zeros(shape, np.uint8), kept))
    assert 1.0 - 2 / MOUSE.paint_px_per_s < _mouse(plan, shape) <= 1.0
    assert budget.take([Stroke(FOREGROUND, 1, path[:2])]) == ([], False), "time is up"


def test_clear_examples_trace_the_widest_root_first_and_fill_open_soil_with_a_big_brush() -> None:
    truth = np.zeros((200, 300), bool)
    truth[30:40, 10:290] = True  # a wide long root
    for col in range(40, 280, 40):
        truth[120:170, col] = True  # thin short ones
    plan = clear_example_plan(truth, rng=np.random.default_rng(0), seconds=20.0)
    assert _spill(plan.labels, truth) == 0 and _mouse(plan, truth.shape) <= 20.0
    first = [s for s in plan.strokes if s.group == 0]
    assert all(s.label == FOREGROUND and s.radius >= 3 for s in first)
    assert all(np.all((s.path[:, 0] >= 30) & (s.path[:, 0] < 40)) for s in first)
    background = [s for s in plan.strokes if s.label == BACKGROUND]
    assert max(s.radius for s in background) >= 8, "open soil gets a large brush"
    distance = ndimage.distance_transform_edt(~truth)
    assert distance[plan.labels == BACKGROUND].min() > 3.0, "a margin from every root"
    fg = np.count_nonzero(plan.labels == FOREGROUND)
    assert np.count_nonzero(plan.labels == BACKGROUND) <= 10 * fg
