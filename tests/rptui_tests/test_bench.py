"""`rptui bench` inputs and charts: what is refused, what is read, what is drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cluster.io.images import encode_png
from cluster.simulate.synthetic import write_dataset
from rptui.bench.evaluate import spread
from rptui.bench.pairs import ImagePair, load_truth, pair_folders, split_test
from rptui.bench.plots import plot_runs
from rptui.bench.records import (
    CURVE_CSV,
    IMAGES_CSV,
    REPORT_JSON,
    CurvePoint,
    ImageRecord,
    write_report,
    write_rows,
)
from rptui.cli import main
from rptui.errors import EXIT_USER_ERROR, UserError

SIZE = 32
PNG_MAGIC = b"\x89PNG"


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    images, masks = tmp_path / "images", tmp_path / "masks"
    write_dataset(images, count=4, seed=1, height=SIZE, width=SIZE, masks_folder=masks)
    return images, masks


def bench(tmp_path: Path, *extra: str) -> list[str]:
    return ["--in-process", "--workspace", str(tmp_path / "ws"), "bench", *extra]


def test_test_options_are_exclusive_and_paired(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, masks = folders
    common = ["--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "o")]
    both = [*common, "--test-images", str(images), "--test-masks", str(masks)]
    assert main(bench(tmp_path, *both, "--test-fraction", "0.3")) == EXIT_USER_ERROR
    assert "not both" in capsys.readouterr().err
    assert main(bench(tmp_path, *common, "--test-images", str(images))) == EXIT_USER_ERROR
    assert "go together" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_missing_folders_and_options_are_one_line_errors(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, masks = folders
    out = ["--out", str(tmp_path / "o")]
    assert main(bench(tmp_path, "--images", str(tmp_path / "nope"), "--masks", str(masks), *out))
    err = capsys.readouterr().err
    assert "nope" in err and len(err.strip().splitlines()) == 1
    assert main(bench(tmp_path, "--images", str(images), *out)) == EXIT_USER_ERROR
    assert "--masks" in capsys.readouterr().err
    bad_tile = ["--images", str(images), "--masks", str(masks), *out, "--tile-size", "100"]
    assert main(bench(tmp_path, *bad_tile)) == EXIT_USER_ERROR
    assert "tile" in capsys.readouterr().err
    run = ["--images", str(images), "--masks", str(masks), *out]
    both = [*run, "--correction-seconds", "30", "--correct-all"]
    assert main(bench(tmp_path, *both)) == EXIT_USER_ERROR
    assert "not both" in capsys.readouterr().err
    assert main(bench(tmp_path, *run, "--correction-seconds", "0")) == EXIT_USER_ERROR
    assert "--correction-seconds must be positive" in capsys.readouterr().err
    assert main(bench(tmp_path, *run, "--momentum", "1")) == EXIT_USER_ERROR
    assert "--momentum must be at least 0 and below 1" in capsys.readouterr().err
    adam_momentum = [*run, "--optimizer", "adam", "--momentum", "0.9"]
    assert main(bench(tmp_path, *adam_momentum)) == EXIT_USER_ERROR
    assert "--momentum is SGD's" in capsys.readouterr().err
    with pytest.raises(SystemExit) as unknown:
        main(bench(tmp_path, *run, "--optimizer", "rmsprop"))
    assert unknown.value.code == EXIT_USER_ERROR and "rmsprop" in capsys.readouterr().err


def test_an_image_without_mask_is_named(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, masks = folders
    (masks / "root_002.png").unlink()
    args = ["--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "o")]
    assert main(bench(tmp_path, *args)) == EXIT_USER_ERROR
    assert "root_002.png" in capsys.readouterr().err
    assert not (tmp_path / "o" / "workspace").exists()


def test_an_unreadable_mask_is_named(
    folders: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, masks = folders
    (masks / "root_001.png").write_bytes(b"not a png")
    args = ["--images", str(images), "--masks", str(masks), "--out", str(tmp_path / "o")]
    assert main(bench(tmp_path, *args, "--test-fraction", "0.5")) == EXIT_USER_ERROR
    assert "root_001.png" in capsys.readouterr().err


def test_masks_in_0_1_and_0_255_read_alike(tmp_path: Path) -> None:
    truth = np.zeros((8, 8), dtype=np.uint8)
    truth[2:5, 3] = 1
    (tmp_path / "a.png").write_bytes(encode_png(truth))
    (tmp_path / "b.png").write_bytes(encode_png(truth * np.uint8(255)))
    one = load_truth(ImagePair("a", tmp_path / "x.png", tmp_path / "a.png"))
    full = load_truth(ImagePair("b", tmp_path / "x.png", tmp_path / "b.png"))
    assert one.dtype == bool and np.array_equal(one, full) and one.sum() == 3


def test_pairs_match_by_stem_and_the_test_split_is_seeded(folders: tuple[Path, Path]) -> None:
    images, masks = folders
    pairs = pair_folders(images, masks)
    assert [p.stem for p in pairs] == [f"root_00{i}" for i in range(4)]
    assert all(p.image.stem == p.mask.stem for p in pairs)
    train, test = split_test(pairs, fraction=0.25, seed=3)
    again = split_test(pairs, fraction=0.25, seed=3)
    assert len(test) == 1 and len(train) == 3 and (train, test) == again
    assert not {p.stem for p in train} & {p.stem for p in test}
    with pytest.raises(UserError):
        split_test(pairs, fraction=0.01, seed=0)


def test_spread_keeps_the_last_model() -> None:
    assert spread(3, 8) == [0, 1, 2]
    picked = spread(20, 5)
    assert len(picked) == 5 and picked[0] == 0 and picked[-1] == 19
    assert spread(20, 1) == [19] and spread(0, 4) == []


def _fake_run(folder: Path, strategy: str, slope: float) -> None:
    folder.mkdir()
    records = [
        ImageRecord(
            index=i,
            image=f"im{i}",
            phase=strategy,
            pre_segment=1,
            time=float(i),
            wall_seconds=10.0 * i,
            image_wall_seconds=10.0,
            mouse_seconds=3.0,
            keyboard_seconds=6.0,
            total_mouse_seconds=3.0 * (i + 1),
            total_keyboard_seconds=6.0 * (i + 1),
            annotated_fg=10,
            annotated_bg=50,
            total_annotated_px=60 * (i + 1),
            model_version=i + 1,
            live_f1=min(1.0, slope * i),
            live_precision=0.5,
            live_recall=0.5,
            confidence=0.9,
            error_regions=2,
            spill_px=0,
            accepted=True,
            split="train",
        )
        for i in range(5)
    ]
    curve = [
        CurvePoint(
            model_version=v,
            created=float(v),
            wall_seconds=float(v),
            annotated_images=v,
            total_annotated_px=60 * v,
            total_mouse_seconds=3.0 * v,
            total_keyboard_seconds=6.0 * v,
            f1=min(1.0, slope * v),
            precision=0.5,
            recall=0.5,
        )
        for v in range(1, 5)
    ]
    write_rows(folder / IMAGES_CSV, records, ImageRecord)
    write_rows(folder / CURVE_CSV, curve, CurvePoint)
    write_report(folder / REPORT_JSON, {"strategy": strategy})


def test_plot_draws_several_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fake_run(tmp_path / "corrective", "corrective", 0.2)
    _fake_run(tmp_path / "dense", "dense", 0.1)
    chart = tmp_path / "chart.png"
    runs = [str(tmp_path / "corrective"), str(tmp_path / "dense")]
    assert main(["bench", "plot", *runs, "-o", str(chart)]) == 0
    assert chart.read_bytes().startswith(PNG_MAGIC)
    assert "2 run(s)" in capsys.readouterr().out
    single = tmp_path / "single.png"
    plot_runs([tmp_path / "dense"], single)
    assert single.stat().st_size < chart.stat().st_size  # fewer lines drawn


def test_plot_refuses_a_folder_that_is_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "plot", str(tmp_path), "-o", str(tmp_path / "c.png")]) == 2
    assert "not a bench run" in capsys.readouterr().err
