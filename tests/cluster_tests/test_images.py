"""Reading images and masks: every format and mode users bring, and every way a file breaks."""

from __future__ import annotations

import io
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from cluster.io.image_limits import ImageReadError
from cluster.io.images import (
    IMAGE_SUFFIXES,
    encode_png,
    list_images,
    page_count,
    read_image,
    read_mask,
)
from cluster.io.intensity import window_to_uint8

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8)
GREY = RNG.integers(0, 256, (40, 60), dtype=np.uint8)


def _save(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, **options)
    return path


def _assert_rgb(array: np.ndarray, height: int = 40, width: int = 60) -> None:
    assert array.shape == (height, width, 3)
    assert array.dtype == np.uint8


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp", ".webp"])
def test_lossless_rgb_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"photo{suffix}"
    options = {"lossless": True} if suffix == ".webp" else {}
    _save(path, Image.fromarray(RGB), **options)
    np.testing.assert_array_equal(read_image(path), RGB)


def test_jpeg_reads_close_to_original(tmp_path: Path) -> None:
    smooth = np.repeat(np.linspace(0, 255, 60, dtype=np.uint8)[None, :, None], 40, 0)
    smooth = np.repeat(smooth, 3, 2)
    path = _save(tmp_path / "photo.JPG", Image.fromarray(smooth), quality=95)
    out = read_image(path)
    _assert_rgb(out)
    assert np.abs(out.astype(int) - smooth).mean() < 3


@pytest.mark.parametrize("mode", ["L", "1", "P", "LA", "CMYK"])
def test_pillow_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    source = Image.fromarray(RGB).convert(mode)
    suffix = ".tif" if mode == "CMYK" else ".png"
    if mode == "CMYK":
        suffix = ".jpg"
    path = _save(tmp_path / f"image{suffix}", source)
    out = read_image(path)
    _assert_rgb(out)
    expected = np.asarray(source.convert("RGB")).astype(int)
    tolerance = 12 if mode == "CMYK" else 0  # JPEG
    assert np.abs(out.astype(int) - expected).mean() <= tolerance


def test_grey_channels_are_equal(tmp_path: Path) -> None:
    path = _save(tmp_path / "grey.png", Image.fromarray(GREY))
    out = read_image(path)
    np.testing.assert_array_equal(out[..., 0], GREY)
    np.testing.assert_array_equal(out[..., 1], out[..., 2])


def test_rgba_alpha_is_dropped_not_composited(tmp_path: Path) -> None:
    rgba = np.dstack([RGB, np.zeros((40, 60), np.uint8)])  # fully transparent
    path = _save(tmp_path / "rgba.png", Image.fromarray(rgba))
    np.testing.assert_array_equal(read_image(path), RGB)


def test_dim_16bit_png_is_stretched_to_be_visible(tmp_path: Path) -> None:
    dim = (RNG.random((40, 60)) * 400 + 100).astype(np.uint16)  # 100..500 of 65535
    path = _save(tmp_path / "dim.png", Image.fromarray(dim))
    out = read_image(path)
    _assert_rgb(out)
    assert out[..., 0].max() - out[..., 0].min() > 200
    # Order is kept: brighter input stays brighter.
    assert out[..., 0][dim == dim.max()].min() >= out[..., 0][dim == dim.min()].max()


def test_16bit_rgb_tiff_keeps_colours(tmp_path: Path) -> None:
    deep = (RGB.astype(np.uint16) * 257) // 16  # 12-bit data in 16 bits
    path = tmp_path / "deep.tif"
    tifffile.imwrite(path, deep, photometric="rgb")
    out = read_image(path)
    _assert_rgb(out)
    # Red-dominant pixels stay red-dominant.
    red = (RGB[..., 0].astype(int) - RGB[..., 1]) > 100
    assert (out[..., 0][red].astype(int) > out[..., 1][red]).all()


def test_float_tiff_with_nan_is_windowed(tmp_path: Path) -> None:
    data = RNG.normal(0.0, 1e-3, (40, 60)).astype(np.float32)
    data[0, 0] = np.nan
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, data)
    out = read_image(path)
    _assert_rgb(out)
    assert out.std() > 30


def test_planar_tiff_reads_as_rgb(tmp_path: Path) -> None:
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, np.moveaxis(RGB, -1, 0), photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_image(path), RGB)


def test_multipage_tiff_pages(tmp_path: Path) -> None:
    stack = np.stack([np.full((20, 30), 40 * i, np.uint8) for i in range(3)])
    path = tmp_path / "stack.tiff"
    tifffile.imwrite(path, stack, photometric="minisblack")
    assert page_count(path) == 3
    for page in range(3):
        assert read_image(path, page=page)[0, 0, 0] == 40 * page
    with pytest.raises(ImageReadError, match="page 3"):
        read_image(path, page=3)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    tall = np.zeros((40, 20, 3), np.uint8)
    tall[:5] = 255  # a white band at the top of the stored pixels
    image = Image.fromarray(tall)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = _save(tmp_path / "phone.jpg", image, exif=exif.tobytes(), quality=95)
    out = read_image(path)
    assert out.shape == (20, 40, 3)
    assert out[:, -5:].mean() > 200  # the band is now on the right
    assert out[:, :5].mean() < 50


def test_pillow_limit_does_not_apply_but_ours_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(tmp_path / "big.png", Image.fromarray(GREY))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would call this a bomb
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_rgb(read_image(path))
    assert Image.MAX_IMAGE_PIXELS == 100  # restored after the read
    with pytest.raises(ImageReadError, match="too large") as info:
        read_image(path, max_pixels=1000)
    assert "big.png" in str(info.value)


def test_image_above_pillows_default_limit_loads(tmp_path: Path) -> None:
    height, width = 9000, 10000  # 90 M pixels > Pillow's 89.5 M
    assert height * width > Image.MAX_IMAGE_PIXELS
    path = tmp_path / "huge.png"
    Image.new("1", (width, height), 1).save(path)  # compresses to a few KB
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = read_image(path)
    assert time.perf_counter() - start < 20
    assert out.shape == (height, width, 3)
    assert out[0, 0, 0] == 255 and out[-1, -1, 2] == 255
    del out
    with pytest.raises(ImageReadError, match="too large"):
        read_image(path, max_pixels=50_000_000)


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(RGB).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.png", b"", "zero-byte"),
        ("half.png", _png_bytes()[: len(_png_bytes()) // 2], "truncated"),
        ("notes.png", b"these are my field notes, not a picture\n" * 5, "not an image"),
        ("garbled.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, ""),
        ("garbled.tif", b"II*\x00" + b"\x07" * 300, ""),
    ],
    ids=["zero-byte", "truncated", "text", "garbled-jpeg", "garbled-tiff"],
)
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
def test_broken_files_raise_one_clear_error(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason or None) as info:
        read_image(path)
    assert name in str(info.value)
    assert info.value.path == path


def test_missing_file_raises_image_read_error(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "gone.png")


def test_window_handles_constant_and_bool() -> None:
    assert window_to_uint8(np.full((4, 4), 7, np.uint16)).max() == 128
    assert window_to_uint8(np.zeros((4, 4), np.float32)).max() == 0
    assert window_to_uint8(np.eye(3, dtype=bool)).max() == 255


SQUARE = np.zeros((30, 40), np.uint8)
SQUARE[10:20, 5:15] = 1


@pytest.mark.parametrize("scale", [1, 255])
def test_binary_masks(tmp_path: Path, scale: int) -> None:
    path = _save(tmp_path / "mask.png", Image.fromarray(SQUARE * np.uint8(scale)))
    for kind in ("auto", "binary"):
        np.testing.assert_array_equal(read_mask(path, kind=kind), SQUARE)


def test_rootpainter_segmentation_mask(tmp_path: Path) -> None:
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[SQUARE == 1] = (0, 255, 255, 178)
    path = _save(tmp_path / "seg.png", Image.fromarray(rgba))
    for kind in ("auto", "rootpainter"):
        np.testing.assert_array_equal(read_mask(path, kind=kind), SQUARE)


def test_rhizovision_black_on_white_mask(tmp_path: Path) -> None:
    path = _save(
        tmp_path / "rve.png", Image.fromarray(np.where(SQUARE == 1, 0, 255).astype(np.uint8))
    )
    for kind in ("auto", "rve"):
        np.testing.assert_array_equal(read_mask(path, kind=kind), SQUARE)


def test_encode_png_round_trips(tmp_path: Path) -> None:
    for array in (RGB, GREY, SQUARE.astype(bool), (GREY.astype(np.uint16) * 200)):
        path = tmp_path / "out.png"
        path.write_bytes(encode_png(array))
        decoded = np.asarray(Image.open(path))
        expected = array.astype(np.uint8) * 255 if array.dtype == bool else array
        np.testing.assert_array_equal(decoded, expected)


def test_list_images_sorts_and_reports_skips(tmp_path: Path) -> None:
    for name in ("b.PNG", "a.jpg", "c.tiff", "notes.txt", ".hidden.png", "README"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    images, skipped = list_images(tmp_path)
    assert [p.name for p in images] == ["a.jpg", "b.PNG", "c.tiff"]
    reasons = {p.name: reason for p, reason in skipped}
    assert set(reasons) == {"notes.txt", "README", "sub"}
    assert ".txt" in reasons["notes.txt"]
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff"} <= IMAGE_SUFFIXES


@pytest.mark.parametrize("compression", ["tiff_lzw", "jpeg", "tiff_adobe_deflate"])
def test_compressed_multipage_tiffs_from_pillow(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "scan.tif"
    flipped = np.ascontiguousarray(RGB[::-1])
    Image.fromarray(RGB).save(
        path, compression=compression, save_all=True, append_images=[Image.fromarray(flipped)]
    )
    assert page_count(path) == 2
    tolerance = 20 if compression == "jpeg" else 0
    for page, expected in enumerate((RGB, flipped)):
        out = read_image(path, page=page)
        _assert_rgb(out)
        assert np.abs(out.astype(int) - expected).mean() <= tolerance


def test_cmyk_tiff_converts_to_rgb(tmp_path: Path) -> None:
    path = _save(tmp_path / "print.tif", Image.fromarray(RGB).convert("CMYK"))
    expected = np.asarray(Image.fromarray(RGB).convert("CMYK").convert("RGB")).astype(int)
    assert np.abs(read_image(path).astype(int) - expected).max() <= 1
