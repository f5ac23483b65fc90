"""``rptui segment``: a folder through an ensemble, every format, resumable, bad files listed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cluster.io.mask_formats import ROOTPAINTER_FOREGROUND
from rptui.store.workspace import Workspace
from tests.rptui_tests.screen_helpers import make_workspace, run_cli


@pytest.fixture()
def workspace_with_model(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=2, height=40, width=56, with_model=True)


def _run(workspace: Workspace, *words: str) -> int:
    return run_cli(workspace.root, "--in-process", "segment", *words)


def _run_on_ray(workspace: Workspace, *words: str) -> int:
    return run_cli(workspace.root, "segment", *words)


def test_a_folder_is_segmented_and_a_bad_file_is_listed(
    workspace_with_model: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = workspace_with_model.dataset_dir("roots")
    (source / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "masks"
    assert _run(workspace_with_model, str(source), str(out), "--model", "p", "--no-tta") == 0
    masks = sorted(p.name for p in out.iterdir())
    assert masks == ["root_000.png", "root_001.png"]
    mask = np.asarray(Image.open(out / "root_000.png"))
    assert mask.shape == (40, 56) and set(np.unique(mask)) <= {0, 255}
    printed = capsys.readouterr().out
    assert "broken.png" in printed and "2 masks written" in printed and "1 failed" in printed


def test_a_second_run_skips_what_is_already_written(
    workspace_with_model: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, out = workspace_with_model.dataset_dir("roots"), tmp_path / "masks"
    _run(workspace_with_model, str(source), str(out), "--model", "p:1", "--no-tta")
    capsys.readouterr()
    _run(workspace_with_model, str(source), str(out), "--model", "p", "--no-tta")
    assert "0 masks written" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["rootpainter", "rve", "npz"])
def test_every_mask_format_holds_the_same_mask(
    workspace_with_model: Workspace, tmp_path: Path, fmt: str
) -> None:
    source = workspace_with_model.dataset_dir("roots")
    plain, other = tmp_path / "png", tmp_path / fmt
    model = str(workspace_with_model.project_dir("p") / "models")
    model_file = next(Path(model).iterdir())
    for out, form in ((plain, "png"), (other, fmt)):
        _run(
            workspace_with_model,
            str(source),
            str(out),
            "--model",
            str(model_file),
            "--no-tta",
            "--format",
            form,
        )
    expected = np.asarray(Image.open(plain / "root_001.png")) > 0
    if fmt == "npz":
        with np.load(other / "root_001.npz") as arrays:
            got = arrays["mask"] > 0
            assert arrays["probability"].shape == expected.shape
    else:
        rgba = np.asarray(Image.open(io.BytesIO((other / "root_001.png").read_bytes())))
        if fmt == "rootpainter":
            got = (rgba == ROOTPAINTER_FOREGROUND).all(axis=-1)
            assert (rgba[~got][:, 3] == 0).all()
        else:
            got = rgba == 0  # black objects on white
    assert (got == expected).all()


def test_an_unknown_model_is_a_one_line_error(
    workspace_with_model: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = workspace_with_model.dataset_dir("roots")
    assert _run(workspace_with_model, str(source), str(tmp_path), "--model", "p:9") == 2
    assert "no model number 9" in capsys.readouterr().err


def test_on_ray_a_corrupt_file_is_a_table_row_and_masks_match_in_process(
    ray_session: object,
    workspace_with_model: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = workspace_with_model.dataset_dir("roots")
    (source / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken jpeg")
    on_ray, here = tmp_path / "ray", tmp_path / "here"
    table, regions = tmp_path / "t.csv", tmp_path / "r.csv"
    words = ["--model", "p", "--precision", "fp32", "--measure", "length,count,tips"]
    assert (
        _run_on_ray(
            workspace_with_model,
            str(source),
            str(on_ray),
            *words,
            "--table",
            str(table),
            "--regions-table",
            str(regions),
        )
        == 0
    )
    assert "1 failed" in capsys.readouterr().out
    _run(workspace_with_model, str(source), str(here), *words)
    for name in ("root_000.png", "root_001.png"):
        ray_mask = np.asarray(Image.open(on_ray / name))
        assert np.array_equal(ray_mask, np.asarray(Image.open(here / name)))

    rows = pd.read_csv(table, keep_default_na=False).set_index("file")
    assert list(rows.index) == ["corrupt.jpg", "root_000.png", "root_001.png"]
    assert rows.loc["corrupt.jpg", "error"] != ""
    assert (rows.loc[["root_000.png", "root_001.png"], "error"] == "").all()
    assert {"skeleton_pixels", "length_px", "count", "tips", "branch_points"} <= set(rows.columns)
    in_process = pd.read_csv(here / "measurements.csv", keep_default_na=False).set_index("file")
    assert rows.loc["root_000.png", "count"] == in_process.loc["root_000.png", "count"]
    per_region = pd.read_csv(regions, keep_default_na=False)
    good = per_region[per_region["error"] == ""]
    counts = good.groupby("file").size().reindex(["root_000.png", "root_001.png"], fill_value=0)
    assert list(counts) == [int(rows.loc[n, "count"]) for n in counts.index]
    assert "corrupt.jpg" in set(per_region["file"])


def test_on_ray_a_resumed_run_still_tables_every_image(
    ray_session: object,
    workspace_with_model: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, out = workspace_with_model.dataset_dir("roots"), tmp_path / "masks"
    words = [str(source), str(out), "--model", "p", "--no-tta", "--measure", "length,count"]
    _run_on_ray(workspace_with_model, *words, "--workers", "1")
    first = pd.read_csv(out / "measurements.csv")
    (out / "root_001.png").unlink()  # as if the first run had been stopped before it
    capsys.readouterr()
    _run_on_ray(workspace_with_model, *words)
    assert "1 masks written" in capsys.readouterr().out
    second = pd.read_csv(out / "measurements.csv")
    assert list(second["file"]) == list(first["file"])  # every image, the skipped one too
    # The kept mask is measured again from its file: the same row as the first run.
    pd.testing.assert_frame_equal(first.iloc[[0]], second.iloc[[0]])
    # The redone one is measured afresh (its pixels may differ by rounding across workers).
    redone = second.iloc[1]
    assert redone["count"] >= 0 and redone["skeleton_pixels"] >= 0
    assert "error" not in second or pd.isna(redone["error"])
