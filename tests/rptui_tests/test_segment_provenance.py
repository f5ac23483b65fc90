"""``rptui segment`` records the models that made each mask and resumes only their work:
masks of other models are redone, masks made elsewhere kept, ``--overwrite`` redoes all."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image

from cluster.io.mask_formats import FORMATS, recorded_models
from cluster.io.model_files import load_model_file, save_model
from cluster.io.provenance import MODEL_FILES_COLUMN, MODEL_HASHES_COLUMN, file_sha256
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import DATASET, PROJECT, make_workspace, run_cli

STACK_DEPTH = 3


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=2, height=40, width=56, with_model=True)


@pytest.fixture()
def models(workspace: Workspace, tmp_path: Path) -> tuple[Path, Path]:
    """The project's model and another one (its weights nudged)."""
    first = next((workspace.project_dir(PROJECT) / "models").iterdir())
    snapshot = load_model_file(first)
    nudged = {name: value + np.float32(0.01) for name, value in snapshot.state_dict.items()}
    second = tmp_path / "000002_1700000000.pt"
    save_model(second, dataclasses.replace(snapshot, version=2, state_dict=nudged))
    return first, second


def segment(workspace: Workspace, output: Path, model: Path, *words: str) -> int:
    source = workspace.dataset_dir(DATASET)
    return run_cli(workspace.root, "--in-process", "segment", str(source), str(output),
                   "--model", str(model), "--no-tta", *words)  # fmt: skip


def hashes(path: Path) -> list[str]:
    recorded = recorded_models(path)
    assert recorded is not None, f"{path} records no models"
    return [model.sha256 for model in recorded]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_mask_format_records_the_models_that_made_it(
    workspace: Workspace, models: tuple[Path, Path], tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / fmt
    assert segment(workspace, out, models[0], "--format", fmt) == 0
    for mask in out.iterdir():
        assert hashes(mask) == [file_sha256(models[0])]
        assert recorded_models(mask)[0].file == models[0].name  # type: ignore[index]


def test_a_rerun_keeps_masks_of_the_same_models_and_redoes_those_of_others(
    workspace: Workspace,
    models: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = models
    out = tmp_path / "out"
    segment(workspace, out, first, "--measure", "count")
    capsys.readouterr()
    assert segment(workspace, out, first, "--measure", "count") == 0
    assert "0 masks written" in capsys.readouterr().out
    assert segment(workspace, out, second, "--measure", "count") == 0
    printed = capsys.readouterr().out
    assert "2 masks written" in printed and "2 of them replace masks made by other" in printed
    for mask in out.glob("*.png"):
        assert hashes(mask) == [file_sha256(second)]
    table = pd.read_csv(out / "measurements.csv")
    assert set(table[MODEL_FILES_COLUMN]) == {second.name}
    assert set(table[MODEL_HASHES_COLUMN]) == {file_sha256(second)}


def test_a_mask_made_elsewhere_is_kept_until_overwrite(
    workspace: Workspace,
    models: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    by_hand = np.zeros((40, 56), np.uint8)
    by_hand[5:9, 5:50] = 255
    Image.fromarray(by_hand).save(out / "root_000.png")
    assert segment(workspace, out, models[0]) == 0
    printed = capsys.readouterr().out
    assert "1 masks written" in printed and "1 masks kept that record no models" in printed
    assert np.array_equal(np.asarray(Image.open(out / "root_000.png")), by_hand)
    assert segment(workspace, out, models[0], "--overwrite") == 0
    assert "2 masks written" in capsys.readouterr().out
    assert hashes(out / "root_000.png") == [file_sha256(models[0])]


def test_an_ensemble_in_another_order_is_the_same_models(
    workspace: Workspace, models: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = models
    out = tmp_path / "out"
    words = ("--model", str(second))
    assert segment(workspace, out, first, *words) == 0
    written = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    source = workspace.dataset_dir(DATASET)
    code = run_cli(workspace.root, "--in-process", "segment", str(source), str(out),
                   "--model", str(second), "--model", str(first), "--no-tta")  # fmt: skip
    assert code == 0
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == written
    assert sorted(hashes(next(iter(written)))) == sorted(map(file_sha256, models))


def test_a_stack_records_its_models_and_is_redone_for_others(
    workspace: Workspace, models: tuple[Path, Path], tmp_path: Path
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    pages = np.random.default_rng(0).integers(0, 255, (STACK_DEPTH, 40, 56), np.uint8)
    tifffile.imwrite(source / "scan.tif", pages, photometric="minisblack")
    out = tmp_path / "out"
    for model in models:
        code = run_cli(workspace.root, "--in-process", "segment", str(source), str(out),
                       "--model", str(model), "--no-tta")  # fmt: skip
        assert code == 0
        assert hashes(out / "scan.tif") == [file_sha256(model)]
