"""Stacks as dataset items: multi-page TIFFs and folders of numbered slices."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from cluster.io.image_limits import ImageReadError
from cluster.io.images import list_images
from cluster.io.stacks import (
    list_items,
    list_slice_files,
    read_stack_slice,
    stack_depth,
    stack_window,
)

SIDE = 16
N_SLICES = 12
N_PAGES = 5


def _grey(level: int, shape: tuple[int, int] = (SIDE, SIDE)) -> np.ndarray:
    return np.full(shape, level, dtype=np.uint8)


def _slice_folder(folder: Path, count: int = N_SLICES) -> Path:
    """slice_1.png .. slice_<count>.png, slice n holding grey level 10 * n."""
    folder.mkdir(parents=True)
    for n in range(1, count + 1):
        Image.fromarray(_grey(10 * n)).save(folder / f"slice_{n}.png")
    return folder


def _tiff_stack(path: Path) -> Path:
    """A 5-page uint16 TIFF whose page z holds a left-dark, right-bright ramp scaled by z."""
    pages = np.zeros((N_PAGES, SIDE, SIDE), dtype=np.uint16)
    for z in range(N_PAGES):
        pages[z, :, SIDE // 2 :] = 1000 * (z + 1)
    tifffile.imwrite(path, pages, photometric="minisblack")
    return path


def test_slice_folder_is_read_in_natural_order(tmp_path: Path) -> None:
    folder = _slice_folder(tmp_path / "scan")
    (folder / "notes.txt").write_text("not a slice")
    (folder / ".hidden.png").write_bytes(b"x")
    names = [p.name for p in list_slice_files(folder)]
    assert names == [f"slice_{n}.png" for n in range(1, N_SLICES + 1)]  # slice_2 < slice_10
    assert stack_depth(folder) == N_SLICES
    for z in (0, 1, 9, N_SLICES - 1):
        image = read_stack_slice(folder, z)
        assert image.shape == (SIDE, SIDE, 3) and image.dtype == np.uint8
        assert int(image[0, 0, 0]) == 10 * (z + 1)
    with pytest.raises(ImageReadError, match=f"slice {N_SLICES + 1} out of range"):
        read_stack_slice(folder, N_SLICES)


def test_multipage_tiff_is_one_stack(tmp_path: Path) -> None:
    path = _tiff_stack(tmp_path / "ct.tif")
    assert stack_depth(path) == N_PAGES
    for z in range(N_PAGES):
        image = read_stack_slice(path, z)
        assert image.shape == (SIDE, SIDE, 3)
        assert image[:, : SIDE // 2].max() == 0 and image[:, SIDE // 2 :].min() == 255
    single = tmp_path / "photo.png"
    Image.fromarray(_grey(7)).save(single)
    assert stack_depth(single) == 1
    assert int(read_stack_slice(single, 0)[0, 0, 0]) == 7
    with pytest.raises(ImageReadError, match="not a stack"):
        read_stack_slice(single, 1)


def test_items_list_slice_folders_and_stacks_once_each(tmp_path: Path) -> None:
    _slice_folder(tmp_path / "scan")
    _tiff_stack(tmp_path / "ct.tif")
    Image.fromarray(_grey(3)).save(tmp_path / "a.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "readme.txt").write_text("hi")
    items, skipped = list_items(tmp_path)
    assert [p.name for p in items] == ["a.png", "ct.tif", "scan"]
    reasons = {p.name: why for p, why in skipped}
    assert set(reasons) == {"empty", "readme.txt"} and "no image files" in reasons["empty"]
    files, skipped_files = list_images(tmp_path)  # files only, as before
    assert [p.name for p in files] == ["a.png", "ct.tif"]
    assert {p.name for p, _ in skipped_files} == {"empty", "readme.txt", "scan"}


def test_a_slice_of_another_size_is_refused_naming_it(tmp_path: Path) -> None:
    folder = _slice_folder(tmp_path / "scan", count=4)
    Image.fromarray(_grey(1, (SIDE, SIDE + 3))).save(folder / "slice_3.png")
    with pytest.raises(ImageReadError, match=r"slice_3\.png.*19x16 but slice_1\.png is 16x16"):
        list_slice_files(folder)
    items, skipped = list_items(tmp_path)
    assert items == [] and "slice_3.png" in skipped[0][1]


def test_a_broken_slice_is_refused_naming_it(tmp_path: Path) -> None:
    folder = _slice_folder(tmp_path / "scan", count=3)
    (folder / "slice_2.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"slice_2\.png.*zero-byte"):
        stack_depth(folder)
    (folder / "slice_2.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageReadError, match=r"slice_2\.png"):
        read_stack_slice(folder, 0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageReadError, match=r"empty.*no image files"):
        stack_depth(empty)


def test_a_slice_linking_outside_its_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    Image.fromarray(_grey(99)).save(secret)
    folder = _slice_folder(tmp_path / "scan", count=2)
    os.symlink(secret, folder / "slice_3.png")
    with pytest.raises(ImageReadError, match=r"slice_3\.png.*outside"):
        read_stack_slice(folder, 2)


def test_a_link_to_a_folder_is_not_a_stack(tmp_path: Path) -> None:
    real = _slice_folder(tmp_path / "elsewhere" / "scan", count=2)
    data = tmp_path / "data"
    data.mkdir()
    (data / "scan").symlink_to(real, target_is_directory=True)
    items, skipped = list_items(data)
    assert items == [] and "not followed" in skipped[0][1]


def test_one_window_maps_a_material_alike_on_every_slice(tmp_path: Path) -> None:
    # 16-bit CT: air 1000, soil 20000, root 40000; slice 0 holds no root, so a window of
    # its own would stretch soil to white there and to grey on the others.
    pages = np.full((3, SIDE, SIDE), 1000, dtype=np.uint16)
    pages[:, :, SIDE // 2 :] = 20000
    pages[1:, : SIDE // 4, :] = 40000
    path = tmp_path / "ct.tif"
    tifffile.imwrite(path, pages, photometric="minisblack")
    window = stack_window(path)
    assert window is not None and window[0] <= 1000 and window[1] >= 40000 * 0.99
    soil = [int(read_stack_slice(path, z, window=window)[-1, -1, 0]) for z in range(3)]
    assert len(set(soil)) == 1 and 100 < soil[0] < 160
    own = [int(read_stack_slice(path, z)[-1, -1, 0]) for z in range(3)]
    assert own[0] == 255 and own[1] < 255  # what the shared window prevents
    assert stack_window(_slice_folder(tmp_path / "scan", count=3)) is None  # 8-bit: as is
