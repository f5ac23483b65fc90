"""The canvas renderer: viewport maths, mask reduction, blending, band renders, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from cluster.api import BACKGROUND, FOREGROUND
from rptui.tui.canvas.display_tone import as_rgb8, quantise, stretch_contrast
from rptui.tui.canvas.palettes import COLOURBLIND_PALETTE, DEFAULT_PALETTE
from rptui.tui.canvas.render import render_view
from rptui.tui.canvas.viewport import Viewport

VIEW_H, VIEW_W = 90, 160  # a 160x45-cell canvas


@pytest.fixture(scope="module")
def big_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (2000, 2000, 3), dtype=np.uint8)


def _inside(view: np.ndarray) -> np.ndarray:
    """Mask of view pixels that show the image (not the outside colour)."""
    return ~np.all(view == DEFAULT_PALETTE.outside, axis=-1)


def test_one_pixel_line_stays_visible_when_zoomed_out() -> None:
    image = np.zeros((2000, 2000, 3), np.uint8)
    segmentation = np.zeros((2000, 2000), np.uint8)
    segmentation[:, 1237] = 255  # a one-pixel vertical root
    labels = np.zeros((2000, 2000), np.uint8)
    labels[777, :] = FOREGROUND  # a one-pixel horizontal stroke
    vp = Viewport.fitted(2000, 2000, VIEW_H, VIEW_W)
    assert vp.scale > 20  # each view pixel covers > 400 image pixels

    view = render_view(image, vp, segmentation=segmentation, seg_opacity=1.0)
    seg_pixels = np.all(view == DEFAULT_PALETTE.segmentation, axis=-1)
    assert seg_pixels.sum(axis=0).max() == VIEW_H  # one unbroken column, top to bottom
    assert seg_pixels.any(axis=0).sum() == 1

    view = render_view(image, vp, labels=labels, ann_opacity=1.0)
    fg_pixels = np.all(view == DEFAULT_PALETTE.foreground, axis=-1)
    assert fg_pixels.sum(axis=1).max() == _inside(view).sum(axis=1).max()  # whole image width
    assert fg_pixels.any(axis=1).sum() == 1


def test_block_with_both_classes_shows_foreground() -> None:
    image = np.zeros((400, 400, 3), np.uint8)
    labels = np.zeros((400, 400), np.uint8)
    labels[100:110, 100:110] = BACKGROUND
    labels[105, 105] = FOREGROUND  # a thin root inside a background stroke
    vp = Viewport.fitted(400, 400, 20, 20)
    view = render_view(image, vp, labels=labels, ann_opacity=1.0)
    assert np.all(view == DEFAULT_PALETTE.foreground, axis=-1).any()


@pytest.mark.parametrize("shape", [(2000, 2000), (300, 1200), (1500, 200), (30, 50)])
def test_fit_shows_the_whole_image_tightly(shape: tuple[int, int]) -> None:
    h, w = shape
    vp = Viewport.fitted(h, w, VIEW_H, VIEW_W)
    for iy, ix in [(0, 0), (h - 1, w - 1), (0, w - 1), (h - 1, 0)]:
        vy, vx = vp.image_to_view(iy, ix)
        assert 0 <= vy < VIEW_H and 0 <= vx < VIEW_W
    # tight: along one axis the image fills the view (up to a whole magnification step)
    fill = max(h / vp.scale / VIEW_H, w / vp.scale / VIEW_W)
    assert fill > 0.5 and fill <= 1.0 + 1e-9
    view = render_view(np.full((h, w, 3), 200, np.uint8), vp)
    assert _inside(view).sum() == pytest.approx(min(h * w / vp.scale**2, VIEW_H * VIEW_W), rel=0.1)


@pytest.mark.parametrize("zoom_steps", [0, 3, 6, 8])
def test_view_and_image_coordinates_round_trip(zoom_steps: int) -> None:
    vp = Viewport.fitted(2000, 1500, VIEW_H, VIEW_W)
    for _ in range(zoom_steps):
        vp.zoom_in((1000, 700))
    if vp.scale <= 1.0:  # every image pixel in view has its own view pixels
        iy0, ix0 = vp.view_to_image(0, 0)
        for iy in range(iy0, iy0 + 10):
            for ix in range(ix0, ix0 + 10):
                assert vp.view_to_image(*vp.image_to_view(iy, ix)) == (iy, ix)
    else:
        for vy in range(0, VIEW_H, 7):
            for vx in range(0, VIEW_W, 7):
                iy, ix = vp.view_to_image(vy, vx)
                if 0 <= iy < 2000 and 0 <= ix < 1500:
                    assert vp.image_to_view(iy, ix) == (vy, vx)


def test_zoom_keeps_the_cursor_point_under_the_cursor() -> None:
    vp = Viewport.fitted(2000, 2000, VIEW_H, VIEW_W)
    cursor = (1013, 987)
    where = vp.image_to_view(*cursor)
    scales = [vp.scale]
    for _ in range(7):
        vp.zoom_in(cursor)
        scales.append(vp.scale)
        assert abs(vp.image_to_view(*cursor)[0] - where[0]) <= 1
        assert abs(vp.image_to_view(*cursor)[1] - where[1]) <= 1
    assert scales == sorted(scales, reverse=True) and scales[-1] < 1  # magnified at the end
    for _ in range(7):
        vp.zoom_out(cursor)
        assert abs(vp.image_to_view(*cursor)[0] - where[0]) <= 1
        assert abs(vp.image_to_view(*cursor)[1] - where[1]) <= 1
    assert vp.scale == pytest.approx(scales[0])


def test_magnified_pixels_are_whole_blocks() -> None:
    image = np.arange(100 * 100 * 3, dtype=np.uint32).reshape(100, 100, 3).astype(np.uint8)
    vp = Viewport.fitted(100, 100, VIEW_H, VIEW_W)
    for _ in range(4):
        vp.zoom_in((50, 50))
    n = round(1 / vp.scale)
    assert n >= 4
    view = render_view(image, vp)
    # each image pixel covers exactly n x n view pixels: runs along a row are n long
    row = view[VIEW_H // 2, :, 0].astype(int) * 65536 + view[VIEW_H // 2, :, 1]
    runs = np.diff(np.flatnonzero(np.diff(row) != 0))
    assert set(runs.tolist()) == {n}


def test_pan_is_clamped_to_the_image() -> None:
    vp = Viewport.fitted(2000, 2000, VIEW_H, VIEW_W)
    vp.zoom_in((1000, 1000))
    vp.zoom_in((1000, 1000))
    vp.pan(-10_000, -10_000)
    assert vp.image_to_view(0, 0) == (0, 0)  # the top-left corner is in view
    vp.pan(10_000, 10_000)
    assert vp.image_to_view(1999, 1999) == (VIEW_H - 1, VIEW_W - 1)


@pytest.mark.parametrize("zoom_steps", [0, 2, 7])
def test_band_render_equals_rows_of_full_render(big_image: np.ndarray, zoom_steps: int) -> None:
    rng = np.random.default_rng(1)
    segmentation = (rng.random((2000, 2000)) > 0.99).astype(np.uint8)
    labels = rng.choice([0, 1, 2], size=(2000, 2000), p=[0.98, 0.01, 0.01]).astype(np.uint8)
    vp = Viewport.fitted(2000, 2000, VIEW_H, VIEW_W)
    for _ in range(zoom_steps):
        vp.zoom_in((700, 1300))
    options = {"segmentation": segmentation, "labels": labels}
    full = render_view(big_image, vp, **options)
    for band in [(0, 2), (10, 24), (41, 90), (88, 90)]:
        part = render_view(big_image, vp, rows=band, **options)
        np.testing.assert_array_equal(part, full[band[0] : band[1]])
        for columns in [(0, 1), (37, 101), (150, 160)]:  # a dab's cells
            block = render_view(big_image, vp, rows=band, columns=columns, **options)
            np.testing.assert_array_equal(block, full[band[0] : band[1], columns[0] : columns[1]])


def test_toggles_and_opacity_hide_overlays() -> None:
    image = np.full((200, 200, 3), 90, np.uint8)
    segmentation = np.zeros((200, 200), np.uint8)
    segmentation[50:150, 50:150] = 1
    labels = np.zeros((200, 200), np.uint8)
    labels[:20] = BACKGROUND
    vp = Viewport.fitted(200, 200, 40, 40)
    plain = render_view(image, vp)
    shown = render_view(image, vp, segmentation=segmentation, labels=labels)
    assert not np.array_equal(plain, shown)
    hidden = render_view(
        image,
        vp,
        segmentation=segmentation,
        labels=labels,
        show_segmentation=False,
        show_annotation=False,
    )
    np.testing.assert_array_equal(hidden, plain)
    transparent = render_view(
        image, vp, segmentation=segmentation, labels=labels, seg_opacity=0, ann_opacity=0
    )
    np.testing.assert_array_equal(transparent, plain)
    no_image = render_view(image, vp, show_image=False)
    assert np.all(no_image[_inside(no_image)] == DEFAULT_PALETTE.blank)


def test_colourblind_palette_recolours_annotation() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    labels = np.zeros((100, 100), np.uint8)
    labels[:50] = FOREGROUND
    labels[50:] = BACKGROUND
    vp = Viewport.fitted(100, 100, 20, 20)
    view = render_view(image, vp, labels=labels, ann_opacity=1.0, palette=COLOURBLIND_PALETTE)
    colours = {tuple(c) for c in view[_inside(view)].tolist()}
    assert colours == {COLOURBLIND_PALETTE.foreground, COLOURBLIND_PALETTE.background}


def test_render_is_fast_enough(big_image: np.ndarray) -> None:
    segmentation = np.zeros((2000, 2000), np.uint8)
    segmentation[::7] = 255
    labels = np.zeros((2000, 2000), np.uint8)
    labels[500:900, 500:900] = FOREGROUND
    vp = Viewport.fitted(2000, 2000, VIEW_H, VIEW_W)
    times = []
    for _ in range(15):
        start = time.perf_counter()
        render_view(big_image, vp, segmentation=segmentation, labels=labels)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.020  # ~1.5 ms measured on an idle 2-core machine


def test_quantise_limits_distinct_colours_and_keeps_extremes() -> None:
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    q = quantise(rgb, bits=4)
    assert len(np.unique(q)) <= 16
    assert np.abs(q.astype(int) - rgb).max() <= 255 // 15
    extremes = np.array([[[0, 255, 0]]], np.uint8)
    np.testing.assert_array_equal(quantise(extremes, bits=5), extremes)
    with pytest.raises(ValueError):
        quantise(rgb, bits=0)


def test_stretch_contrast_brightens_a_dim_16_bit_image() -> None:
    rng = np.random.default_rng(3)
    dim = (1000 + rng.integers(0, 200, (300, 300))).astype(np.uint16)
    plain = as_rgb8(dim)
    assert plain.shape == (300, 300, 3) and plain.max() < 10  # nearly black as it is
    stretched = as_rgb8(dim, stretch=True)
    assert stretched.dtype == np.uint8 and stretched.shape == (300, 300, 3)
    assert stretched.min() == 0 and stretched.max() == 255
    assert 100 < stretched.mean() < 155
    # order of intensities is kept
    flat_in, flat_out = dim.ravel().astype(int), stretched[..., 0].ravel().astype(int)
    order = np.argsort(flat_in, kind="stable")
    assert np.all(np.diff(flat_out[order]) >= 0)
    colour = stretch_contrast(rng.integers(20, 60, (50, 50, 3)).astype(np.uint8))
    assert colour.max() == 255
