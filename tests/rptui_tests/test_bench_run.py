"""`rptui bench` end to end on tiny generated images with the in-process backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cluster.api import BACKGROUND, FOREGROUND
from cluster.io.images import encode_png, read_mask
from cluster.io.model_files import load_model_file, save_model
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.simulate.synthetic import write_dataset
from rptui.bench.records import (
    CHART_PNG,
    CURVE_CSV,
    EPOCHS_CSV,
    IMAGES_CSV,
    MODEL_FILE,
    REPORT_JSON,
)
from rptui.cli import main
from rptui.store.annotation_files import from_png_bytes

pytest.importorskip("cluster.simulate.strokes")
pytest.importorskip("cluster.simulate.annotation_time")

SIZE = 52  # with 124-px tiles (52 px out): one tile an image
IMAGES = 7  # 4 annotated, 3 held out
START_SEED = 11  # the weights the dense run starts from
TRAIN_OPTIONS = [
    "--tile-size",
    "124",
    "--batch-size",
    "2",
    "--epoch-tiles",
    "4",
    "--pace",
    "none",
    "--seconds",
    "300",
    "--finish-seconds",
    "30",
    "--patience",
    "1",
    "--eval-models",
    "2",
    "--test-fraction",
    "0.43",
    "--seed",
    "2",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Images with masks, half of the masks saved 0/1 and half 0/255."""
    root = tmp_path_factory.mktemp("bench-data")
    images, masks = root / "images", root / "masks"
    write_dataset(images, count=IMAGES, seed=5, height=SIZE, width=SIZE, masks_folder=masks)
    for path in sorted(masks.iterdir())[::2]:
        path.write_bytes(encode_png(read_mask(path, kind="binary")))  # 0/1
    return images, masks


def run_bench(data: tuple[Path, Path], out: Path, *extra: str) -> int:
    images, masks = data
    args = ["--in-process", "--workspace", str(out.parent / "ws"), "bench"]
    args += ["--images", str(images), "--masks", str(masks), "--out", str(out)]
    return main([*args, *TRAIN_OPTIONS, *extra])


@pytest.fixture(scope="module")
def corrective(data: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "corrective"
    assert run_bench(data, out, "--strategy", "corrective", "--max-clear-examples", "2") == 0
    return out


@pytest.fixture(scope="module")
def dense(data: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dense run that starts from a given model file (START_SEED's weights)."""
    out = tmp_path_factory.mktemp("runs") / "dense"
    start = out.parent / "start.pt"
    torch.manual_seed(START_SEED)
    save_model(start, snapshot_from_model(UNetGNRes(out_channels=2), version=1))
    dense = ["--strategy", "dense", "--max-images", "3", "--eval-models", "1"]
    assert run_bench(data, out, *dense, "--model", str(start)) == 0
    return out


def annotations_of(out: Path) -> Path:
    return out / "workspace" / "projects" / "bench" / "annotations"


def saved_labels(out: Path) -> dict[str, np.ndarray]:
    folders = [annotations_of(out) / split for split in ("train", "val")]
    return {p.stem: from_png_bytes(p.read_bytes()) for f in folders for p in f.glob("*.png")}


def truth_of(data: tuple[Path, Path], stem: str) -> np.ndarray:
    return read_mask(data[1] / f"{stem}.png", kind="binary") > 0


def test_corrective_run_follows_the_protocol(corrective: Path, data: tuple[Path, Path]) -> None:
    rows = pd.read_csv(corrective / IMAGES_CSV, keep_default_na=False)
    assert len(rows) == IMAGES - 3
    phases = list(rows["phase"])
    assert phases[:2] == ["clear", "clear"]
    first = phases.index("corrective")  # clear examples, then corrections only
    assert set(phases[first:]) == {"corrective"}
    assert (rows["model_version"][first:] > 1).all()  # never correcting an untrained model
    pre_segment = rows["pre_segment"]  # 0 for clear examples, then rising
    assert list(pre_segment[:3]) == [0, 0, 0] and pre_segment.is_monotonic_increasing
    assert pre_segment.iloc[-1] >= 1
    assert (rows["spill_px"] == 0).all()
    later = rows[rows["phase"] == "corrective"]
    assert (later["accepted"] == (later["error_regions"] > 0)).all()  # skipped: nothing worth it
    assert (rows["mouse_seconds"] > 0).all()
    assert (rows["mouse_seconds"] <= rows["budget_seconds"]).all(), "a human pace"
    assert (later["budget_seconds"] == 40).all()  # the default correction budget
    assert (later["uncorrected_px"] <= later["error_px"]).all()
    assert (rows["keyboard_seconds"] >= rows["mouse_seconds"]).all()  # keys are slower here
    assert (rows["total_mouse_seconds"].diff().dropna() >= 0).all()
    assert ((rows["live_f1"] >= 0) & (rows["live_f1"] <= 1)).all()
    accepted = rows[rows["accepted"]]
    assert list(accepted["split"][:2]) == ["val", "train"]  # the project's split rule
    labels = saved_labels(corrective)
    assert set(labels) == set(accepted["image"])
    for stem, painted in labels.items():  # zero spill in what the trainer was sent
        truth = truth_of(data, stem)
        assert not np.any((painted == FOREGROUND) & ~truth)
        assert not np.any((painted == BACKGROUND) & truth)
        row = accepted[accepted["image"] == stem].iloc[0]
        assert row["annotated_fg"] == np.count_nonzero(painted == FOREGROUND)
        # A correction keeps the mask it was painted on (validation scores against it);
        # a clear example, painted over the start model's mask, keeps none.
        kept = (annotations_of(corrective) / "accepted" / f"{stem}.png").is_file()
        assert kept == (row["phase"] == "corrective"), stem


def test_corrective_run_writes_report_model_and_charts(corrective: Path) -> None:
    report = json.loads((corrective / REPORT_JSON).read_text())
    held = report["held_out"]
    assert report["strategy"] == "corrective" and held["test_images"] == 3
    assert 0.0 <= held["f1"] <= 1.0 and len(held["lengths"]) == 3
    assert held["tp"] + held["fp"] + held["tn"] + held["fn"] == 3 * SIZE * SIZE
    assert report["training"]["epochs"] >= 1 and report["spill_px"] == 0
    rows = pd.read_csv(corrective / IMAGES_CSV)
    corrections = report["corrections"]
    assert corrections["budget_seconds"] == 40 and corrections["images"] == sum(
        rows["phase"] == "corrective"
    )
    assert corrections["uncorrected_px"] == rows["uncorrected_px"].sum()
    assert corrections["error_px"] == rows["error_px"].sum()
    curve = pd.read_csv(corrective / CURVE_CSV)
    assert 1 <= len(curve) <= 2
    assert curve["model_version"].is_monotonic_increasing
    assert curve["model_version"].iloc[-1] == held["model_version"]
    assert (corrective / MODEL_FILE).stat().st_size > 1_000_000
    assert len(pd.read_csv(corrective / EPOCHS_CSV)) == report["training"]["epochs"]
    assert (corrective / CHART_PNG).read_bytes().startswith(b"\x89PNG")


def test_dense_run_labels_every_image_fully(dense: Path, data: tuple[Path, Path]) -> None:
    rows = pd.read_csv(dense / IMAGES_CSV, keep_default_na=False)
    assert len(rows) == 3 and set(rows["phase"]) == {"dense"} and rows["accepted"].all()
    assert (rows["spill_px"] == 0).all()
    labelled = rows["annotated_fg"] + rows["annotated_bg"]
    assert (labelled > 0.8 * SIZE * SIZE).all()  # all but a thin band along boundaries
    assert (rows["mouse_seconds"] > 0).all()
    for stem, painted in saved_labels(dense).items():
        truth = truth_of(data, stem)
        assert np.count_nonzero(painted == FOREGROUND) <= np.count_nonzero(truth)


def test_a_run_starts_from_the_model_given(dense: Path) -> None:
    """``--model`` is the bench project's model 1, as ``project create --model`` makes it."""
    report = json.loads((dense / REPORT_JSON).read_text())
    start = dense.parent / "start.pt"
    assert report["options"]["start_model"] == str(start)
    models = sorted((dense / "workspace" / "projects" / "bench" / "models").glob("000001_*"))
    given, first = load_model_file(start).state_dict, load_model_file(models[0]).state_dict
    assert all(np.array_equal(given[key], first[key]) for key in given)


def test_a_start_model_that_finds_nothing_gets_clear_examples_first(
    data: tuple[Path, Path], tmp_path: Path
) -> None:
    """A given model sure that there is no root anywhere is confident but wrong: the user
    paints clear examples rather than correcting it from the first image."""
    blind = UNetGNRes(out_channels=2)
    with torch.no_grad():
        head, norm = blind.conv_out[0], blind.conv_out[2]
        head.weight.zero_()
        head.bias.copy_(torch.tensor([5.0, 0.0]))  # background wins everywhere
        norm.weight.fill_(8.0)
    start = tmp_path / "blind.pt"
    save_model(start, snapshot_from_model(blind, version=1))
    out = tmp_path / "run"
    run = ["--strategy", "corrective", "--max-clear-examples", "2", "--max-images", "2"]
    assert run_bench(data, out, *run, "--model", str(start)) == 0
    rows = pd.read_csv(out / IMAGES_CSV, keep_default_na=False)
    assert (rows["confidence"] > 0.99).all() and (rows["live_f1"] == 0).all()
    assert list(rows["phase"]) == ["clear", "clear"]


def test_a_start_model_that_is_not_there_is_one_line(
    data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for missing in (str(tmp_path / "none.pt"), "starter:leaves"):
        assert run_bench(data, tmp_path / "run", "--model", missing) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and missing in err
    assert not (tmp_path / "run").exists()


def test_plot_compares_the_two_runs(corrective: Path, dense: Path, tmp_path: Path) -> None:
    chart = tmp_path / "both.png"
    assert main(["bench", "plot", str(corrective), str(dense), "-o", str(chart)]) == 0
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_an_existing_run_is_never_overwritten(
    corrective: Path, data: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = (corrective / IMAGES_CSV).read_bytes()
    assert run_bench(data, corrective) == 2
    assert "already holds a bench run" in capsys.readouterr().err
    assert (corrective / IMAGES_CSV).read_bytes() == before
