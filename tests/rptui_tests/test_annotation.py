"""The user's painted labels: brush shapes, undo, the RootPainter file format, the split."""

from __future__ import annotations

import io
import itertools
import math
import time

import numpy as np
import pytest
from PIL import Image
from skimage.measure import label as connected_regions

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED, Split
from rptui.store.annotation import Annotation, AnnotationError, Box, assign_split
from rptui.store.annotation_files import decode_rgba, encode_rgba, from_png_bytes, to_png_bytes
from rptui.store.project_config import choose_split


def distance_to_polyline(shape: tuple[int, int], points: list[tuple[int, int]]) -> np.ndarray:
    """Brute-force distance from every pixel centre to the polyline (the reference)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    best = np.full(shape, np.inf)
    pairs = list(itertools.pairwise(points)) or [(points[0], points[0])]
    for (ay, ax), (by, bx) in pairs:
        dy, dx = by - ay, bx - ax
        length2 = dy * dy + dx * dx
        t = 0.0 if length2 == 0 else np.clip(((yy - ay) * dy + (xx - ax) * dx) / length2, 0, 1)
        best = np.minimum(best, np.hypot(yy - ay - t * dy, xx - ax - t * dx))
    return best


# --- brushes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("radius", [5, 12, 30])
def test_point_is_a_disk_of_the_brush_radius(radius: int) -> None:
    annotation = Annotation.blank(100, 100)
    box = annotation.paint_point(50, 50, radius=radius, value=FOREGROUND)
    painted = annotation.labels == FOREGROUND
    assert painted.sum() == pytest.approx(math.pi * radius**2, rel=0.06)
    assert box == Box(50 - radius, 50 - radius, 51 + radius, 51 + radius)
    assert np.array_equal(painted, distance_to_polyline((100, 100), [(50, 50)]) <= radius)


def test_smallest_brushes_are_one_pixel_and_a_plus() -> None:
    annotation = Annotation.blank(9, 9)
    annotation.paint_point(2, 2, radius=0, value=FOREGROUND)
    annotation.paint_point(6, 6, radius=1, value=BACKGROUND)
    assert annotation.foreground_pixels == 1 and annotation.labels[2, 2] == FOREGROUND
    plus = np.argwhere(annotation.labels == BACKGROUND)
    assert sorted(map(tuple, plus)) == [(5, 6), (6, 5), (6, 6), (6, 7), (7, 6)]


def test_point_at_the_edge_is_clipped_and_outside_paints_nothing() -> None:
    annotation = Annotation.blank(50, 60)
    box = annotation.paint_point(0, 59, radius=10, value=FOREGROUND)
    assert box == Box(0, 49, 11, 60)
    reference = distance_to_polyline((50, 60), [(0, 59)]) <= 10
    assert np.array_equal(annotation.labels == FOREGROUND, reference)
    assert annotation.paint_point(-20, 5, radius=3, value=FOREGROUND).is_empty
    assert annotation.foreground_pixels == np.count_nonzero(annotation.labels)


@pytest.mark.parametrize("radius", [0, 1, 4])
def test_stroke_between_far_points_has_no_gaps(radius: int) -> None:
    shape = (300, 400)
    points = [(10, 10), (290, 390), (20, 300), (20, 301)]
    annotation = Annotation.blank(*shape)
    box = annotation.paint_stroke(points, radius=radius, value=FOREGROUND)
    painted = annotation.labels == FOREGROUND
    distance = distance_to_polyline(shape, points)
    assert np.all(painted[distance <= radius]), "a pixel within the brush was missed"
    assert not np.any(painted[distance > radius + 1]), "paint spilled beyond the brush"
    assert connected_regions(painted, connectivity=2).max() == 1
    rows, cols = np.nonzero(painted)
    assert box == Box(rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)


def test_painting_replaces_and_erasing_unlabels() -> None:
    annotation = Annotation.blank(40, 40)
    annotation.paint_point(20, 20, radius=6, value=FOREGROUND)
    annotation.paint_point(20, 20, radius=3, value=BACKGROUND)
    assert annotation.labels[20, 20] == BACKGROUND
    assert annotation.labels[20, 25] == FOREGROUND
    assert set(np.unique(annotation.labels)) == {UNLABELLED, BACKGROUND, FOREGROUND}
    annotation.paint_stroke([(20, 10), (20, 30)], radius=8, value=UNLABELLED)
    assert annotation.is_empty
    assert annotation.foreground_pixels == annotation.background_pixels == 0


def test_fill_box_takes_corners_in_any_order_inclusive() -> None:
    annotation = Annotation.blank(30, 30)
    box = annotation.fill_box(12, 20, 5, 8, value=BACKGROUND)
    assert box == Box(5, 8, 13, 21)
    expected = np.zeros((30, 30), dtype=np.uint8)
    expected[5:13, 8:21] = BACKGROUND
    assert np.array_equal(annotation.labels, expected)
    assert annotation.fill_box(25, 25, 99, 99, value=FOREGROUND) == Box(25, 25, 30, 30)


def test_fill_mask_is_one_undo_step() -> None:
    rng = np.random.default_rng(1)
    annotation = Annotation.blank(64, 64)
    annotation.paint_point(5, 5, radius=2, value=FOREGROUND)
    before = annotation.labels.copy()
    mask = np.zeros((64, 64), dtype=bool)
    mask[20:40, 10:50] = rng.random((20, 40)) > 0.5
    box = annotation.fill_mask(mask, value=BACKGROUND)
    assert box.y0 >= 20 and box.y1 <= 40 and box.x0 >= 10 and box.x1 <= 50
    assert np.all(annotation.labels[mask] == BACKGROUND)
    assert annotation.background_pixels == mask.sum()
    annotation.undo()
    assert np.array_equal(annotation.labels, before)
    with pytest.raises(AnnotationError, match="does not match"):
        annotation.fill_mask(np.ones((3, 3), dtype=bool), value=BACKGROUND)


def test_labels_cannot_be_edited_behind_the_undo_history() -> None:
    annotation = Annotation.blank(8, 8)
    with pytest.raises(ValueError):
        annotation.labels[0, 0] = FOREGROUND
    with pytest.raises(AnnotationError):
        annotation.paint_point(1, 1, radius=1, value=7)


# --- undo -------------------------------------------------------------------------------------
def random_edit(annotation: Annotation, rng: np.random.Generator) -> None:
    kind = rng.integers(4)
    value = int(rng.integers(0, 3))
    y, x = (int(v) for v in rng.integers(0, 120, size=2))
    if kind == 0:
        annotation.paint_point(y, x, radius=int(rng.integers(0, 9)), value=value)
    elif kind == 1:
        points = [tuple(int(v) for v in p) for p in rng.integers(-10, 130, size=(3, 2))]
        annotation.paint_stroke(points, radius=int(rng.integers(0, 5)), value=value)
    elif kind == 2:
        annotation.fill_box(y, x, y + 15, x + 25, value=value)
    else:
        annotation.fill_mask(rng.random((120, 120)) > 0.97, value=value)


def test_undo_and_redo_sixty_steps_restore_exact_labels() -> None:
    rng = np.random.default_rng(7)
    annotation = Annotation.blank(120, 120)
    states = [annotation.labels.copy()]
    while len(states) <= 60:
        random_edit(annotation, rng)
        with annotation.stroke():
            pass  # an empty stroke adds no step
        if not np.array_equal(annotation.labels, states[-1]):
            states.append(annotation.labels.copy())  # an edit that changed nothing adds no step
    for state in reversed(states[:-1]):
        assert annotation.undo() is not None
        assert np.array_equal(annotation.labels, state)
    assert not annotation.can_undo
    for state in states[1:]:
        assert annotation.redo() is not None
        assert np.array_equal(annotation.labels, state)
    assert not annotation.can_redo
    counts = np.bincount(annotation.labels.ravel(), minlength=3)
    assert (annotation.background_pixels, annotation.foreground_pixels) == tuple(counts[1:3])


def test_undo_depth_limit_keeps_the_newest_steps() -> None:
    annotation = Annotation.blank(20, 80, undo_depth=50)
    for x in range(60):
        annotation.paint_point(10, x, radius=0, value=FOREGROUND)
    undone = 0
    while annotation.undo() is not None:
        undone += 1
    assert undone == 50
    assert annotation.foreground_pixels == 10  # the ten oldest dabs can no longer be undone


def test_new_edit_clears_redo() -> None:
    annotation = Annotation.blank(20, 20)
    annotation.paint_point(5, 5, radius=1, value=FOREGROUND)
    annotation.undo()
    assert annotation.can_redo
    annotation.paint_point(10, 10, radius=1, value=BACKGROUND)
    assert not annotation.can_redo and annotation.redo() is None
    assert annotation.foreground_pixels == 0


def test_undo_stores_only_the_changed_box() -> None:
    annotation = Annotation.blank(4000, 4000)
    box = annotation.paint_point(2000, 2000, radius=2, value=FOREGROUND)
    assert box.area == 25 and annotation.history_bytes <= 2 * box.area
    annotation.undo()
    assert annotation.history_bytes <= 2 * box.area  # the redo copy, still box-sized
    annotation.paint_stroke([(0, 0), (3999, 3999)], radius=3, value=FOREGROUND)
    # a diagonal stroke keeps thin pieces, nothing like its 16-megapixel bounding box
    assert annotation.history_bytes < 1_000_000


def test_keyboard_stroke_painted_in_pieces_undoes_as_one_step() -> None:
    annotation = Annotation.blank(100, 100)
    annotation.paint_point(90, 90, radius=2, value=BACKGROUND)
    before = annotation.labels.copy()
    cursor = [(10, 10), (10, 30), (40, 30), (40, 60), (70, 80)]
    annotation.begin_stroke()
    boxes = [annotation.paint_point(*cursor[0], radius=2, value=FOREGROUND)]
    for previous, current in itertools.pairwise(cursor):
        boxes.append(annotation.paint_stroke([previous, current], radius=2, value=FOREGROUND))
    whole = annotation.end_stroke()
    after = annotation.labels.copy()
    assert whole == Box(8, 8, 73, 83)
    assert all(whole.union(box) == whole for box in boxes)
    assert annotation.undo() == whole
    assert np.array_equal(annotation.labels, before)
    annotation.redo()
    assert np.array_equal(annotation.labels, after)
    annotation.undo()
    annotation.undo()
    assert annotation.is_empty


def test_dirty_follows_edits_saves_and_undo() -> None:
    annotation = Annotation(np.eye(10, dtype=np.uint8) * FOREGROUND)
    assert not annotation.dirty and annotation.foreground_pixels == 10
    annotation.paint_point(0, 9, radius=0, value=BACKGROUND)
    assert annotation.dirty
    annotation.mark_saved()
    assert not annotation.changed
    annotation.undo()
    assert annotation.dirty
    annotation.redo()
    assert not annotation.dirty
    annotation.paint_point(0, 9, radius=0, value=BACKGROUND)  # no change: still saved
    assert not annotation.dirty


def test_painting_is_fast_on_a_large_image() -> None:
    """Painting costs the pixels it touches, not the image (CPU time of this thread, so
    other work on a busy machine does not count)."""
    annotation = Annotation.blank(4000, 4000)
    dab_times, stroke_times = [], []
    for i in range(20):
        start = time.thread_time()
        annotation.paint_point(100 + 150 * i, 200, radius=4, value=FOREGROUND)
        dab_times.append(time.thread_time() - start)
        points = [(100 + 150 * i + k // 8, 300 + k) for k in range(0, 500, 3)]
        start = time.thread_time()
        annotation.paint_stroke(points, radius=3, value=BACKGROUND)
        stroke_times.append(time.thread_time() - start)
    assert np.median(dab_times) < 0.002
    assert np.median(stroke_times) < 0.020


# --- the RootPainter file format -------------------------------------------------------------
def test_png_round_trip_is_exact() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(37, 53)).astype(np.uint8)
    data = to_png_bytes(labels)
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGBA" and image.size == (53, 37)
    assert np.array_equal(from_png_bytes(data, expected_shape=(37, 53)), labels)
    assert np.array_equal(decode_rgba(encode_rgba(labels)), labels)


def test_encoding_uses_rootpainter_colours() -> None:
    rgba = encode_rgba(np.array([[UNLABELLED, BACKGROUND, FOREGROUND]], dtype=np.uint8))
    assert rgba[0, 0].tolist() == [0, 0, 0, 0]
    assert rgba[0, 1, :3].tolist() == [0, 255, 0] and rgba[0, 1, 3] > 0
    assert rgba[0, 2, :3].tolist() == [255, 0, 0] and rgba[0, 2, 3] > 0


def test_decodes_a_hand_made_rootpainter_annotation() -> None:
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    rgba[0, :] = (255, 0, 0, 180)
    rgba[1, :] = (0, 255, 0, 180)
    rgba[2, 0] = (255, 0, 0, 0)  # fully transparent: unlabelled whatever its colour
    rgba[2, 1] = (255, 255, 0, 255)  # both channels: read as foreground
    rgba[3, 2] = (30, 0, 0, 10)  # faint red still counts
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG")
    labels = from_png_bytes(buffer.getvalue())
    expected = np.zeros((4, 5), dtype=np.uint8)
    expected[0] = FOREGROUND
    expected[1] = BACKGROUND
    expected[2, 1] = FOREGROUND
    expected[3, 2] = FOREGROUND
    assert np.array_equal(labels, expected)
    assert np.array_equal(decode_rgba(rgba[..., :3])[:2], expected[:2])  # RGB without alpha


def test_bad_annotation_files_raise_clear_errors() -> None:
    data = to_png_bytes(np.zeros((10, 20), dtype=np.uint8))
    with pytest.raises(AnnotationError, match=r"20x10.*30x10"):
        from_png_bytes(data, expected_shape=(10, 30))
    grey = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(grey, format="PNG")
    with pytest.raises(AnnotationError, match="mode L"):
        from_png_bytes(grey.getvalue())
    with pytest.raises(AnnotationError, match="unreadable"):
        from_png_bytes(b"not a png")


# --- the train/validation split --------------------------------------------------------------
def test_split_rule_for_the_first_twenty_annotations() -> None:
    splits: dict[str, Split] = {}
    for i in range(20):
        splits[f"image{i:02d}"] = choose_split(splits)
    expected = (["val"] + ["train"] * 5) * 3 + ["val", "train"]
    assert list(splits.values()) == expected
    assert assign_split(0, 0) == "val" and assign_split(4, 1) == "train"


def test_a_project_without_validation_gets_one_next() -> None:
    stored: dict[str, Split] = {"a": "train", "b": "train", "c": "train"}  # an odd old project
    assert choose_split(stored) == "val"
    assert choose_split({**stored, "d": "val"}) == "train"
