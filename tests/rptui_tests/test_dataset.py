"""Dataset creation: grid choice, sampling, tiling, bad images, real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cluster.io.images import encode_png, read_image
from cluster.simulate.synthetic import write_dataset
from rptui.store.dataset import DatasetError, create_dataset, output_stems
from rptui.store.dataset_pieces import choose_grid, grid_boxes

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SWITCHGRASS = SHARED_DATA / "switchgrass" / "images"


@pytest.mark.parametrize(
    ("height", "width", "grid"),
    [
        (3000, 2000, (4, 3)),  # 750 x 667 pieces: near square, near 750²
        (2000, 3000, (3, 4)),
        (1200, 1200, (2, 2)),  # 600² pieces beat one 1200² piece
        (700, 700, (1, 1)),  # cannot split into pieces of 600 px
        (510, 720, (1, 1)),  # smaller than a piece: kept whole
        (599, 5000, (1, 1)),
    ],
)
def test_choose_grid_on_hand_checked_sizes(height: int, width: int, grid: tuple) -> None:
    assert choose_grid(height, width) == grid


def test_choose_grid_pieces_respect_min_size() -> None:
    for height, width in [(1300, 4100), (6000, 4000), (2273, 2550), (1199, 3601)]:
        rows, cols = choose_grid(height, width, target_size=800, min_size=600)
        assert height / rows >= 600 and width / cols >= 600


def test_grid_boxes_cover_the_image_exactly() -> None:
    boxes = grid_boxes(1001, 703, 3, 2)
    covered = np.zeros((1001, 703), int)
    for _, _, top, bottom, left, right in boxes:
        covered[top:bottom, left:right] += 1
    assert (covered == 1).all()


def test_colliding_stems_get_unique_stable_names() -> None:
    paths = [Path("a.JPG"), Path("a.png"), Path("a_png.png"), Path("b.tif")]
    stems = output_stems(paths)
    assert len(set(stems.values())) == 4
    assert stems[Path("b.tif")] == "b"
    assert stems == output_stems(paths)


def _source(folder: Path, *, count: int, size: tuple[int, int] = (64, 80)) -> list[Path]:
    return write_dataset(folder, count=count, seed=1, height=size[0], width=size[1])


def test_small_images_copied_whole_and_bad_ones_reported(tmp_path: Path) -> None:
    images = _source(tmp_path / "src", count=4)
    (tmp_path / "src" / "broken.png").write_bytes(images[0].read_bytes()[:100])
    (tmp_path / "src" / "notes.txt").write_text("field notes")
    progress: list[tuple[int, int]] = []
    report = create_dataset(
        tmp_path / "src", tmp_path / "out", progress=lambda d, t: progress.append((d, t))
    )
    assert sorted(p.name for p in report.written) == sorted(p.name for p in images)
    for path in images:
        np.testing.assert_array_equal(read_image(tmp_path / "out" / path.name), read_image(path))
    reasons = {p.name: why for p, why in report.skipped}
    assert "truncated" in reasons["broken.png"]
    assert "notes.txt" in reasons
    assert report.source_count == 5
    assert progress[-1] == (5, 5)
    assert "4 files written" in report.summary()


def test_large_image_is_tiled_and_capped(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    rows, cols = np.indices((1500, 1300))
    image = np.dstack([rows % 256, cols % 256, (rows // 256) * 16 + cols // 256]).astype(np.uint8)
    (tmp_path / "src" / "field.png").write_bytes(encode_png(image, compress_level=1))
    report = create_dataset(tmp_path / "src", tmp_path / "all", target_size=650)
    names = sorted(p.name for p in report.written)
    assert names == [f"field_{r}_{c}.png" for r in range(2) for c in range(2)]
    top_left = read_image(tmp_path / "all" / "field_0_0.png")
    np.testing.assert_array_equal(top_left, image[:750, :650])
    capped = create_dataset(tmp_path / "src", tmp_path / "two", target_size=650, tiles_per_image=2)
    again = create_dataset(tmp_path / "src", tmp_path / "again", target_size=650, tiles_per_image=2)
    assert len(capped.written) == 2
    assert {p.name for p in capped.written} <= set(names)
    assert [p.name for p in capped.written] == [p.name for p in again.written]


def test_sample_is_reproducible_by_seed(tmp_path: Path) -> None:
    _source(tmp_path / "src", count=10, size=(24, 24))
    runs = [
        create_dataset(tmp_path / "src", tmp_path / f"out{i}", sample=4, seed=seed)
        for i, seed in enumerate((3, 3, 4))
    ]
    names = [sorted(p.name for p in run.written) for run in runs]
    assert len(names[0]) == 4 and runs[0].used_count == 4
    assert names[0] == names[1]
    assert names[0] != names[2]


def test_same_stem_different_suffix_both_kept(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    for suffix, value in ((".png", 10), (".jpg", 200)):
        Image.new("RGB", (30, 20), (value,) * 3).save(tmp_path / "src" / f"a{suffix}")
    report = create_dataset(tmp_path / "src", tmp_path / "out")
    assert len(report.written) == 2
    means = sorted(read_image(p).mean() for p in report.written)
    assert means[0] < 50 < 150 < means[1]


def test_destination_must_be_new_or_empty(tmp_path: Path) -> None:
    _source(tmp_path / "src", count=1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.png").write_bytes(b"x")
    with pytest.raises(DatasetError, match="not empty"):
        create_dataset(tmp_path / "src", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        create_dataset(tmp_path / "empty", tmp_path / "out2")
    with pytest.raises(DatasetError, match="not a folder"):
        create_dataset(tmp_path / "missing", tmp_path / "out3")


@pytest.mark.skipif(not SWITCHGRASS.is_dir(), reason="shared switchgrass data absent")
def test_switchgrass_images_kept_whole(tmp_path: Path) -> None:
    report = create_dataset(SWITCHGRASS, tmp_path / "switchgrass")
    assert report.source_count == 31
    assert not report.skipped
    assert len(report.written) == 31
    for path in report.written[:3]:
        original = read_image(SWITCHGRASS / path.name)
        np.testing.assert_array_equal(read_image(path), original)
        assert original.shape[:2] == (720, 510)  # 510 wide, 720 tall
