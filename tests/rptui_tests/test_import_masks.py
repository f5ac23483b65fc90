"""``rptui project import-masks``: hand-made masks become annotations, checked before writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cluster.api import BACKGROUND, FOREGROUND
from cluster.io.mask_formats import MaskFormat, encode_mask
from cluster.simulate.synthetic import write_dataset
from rptui.store.annotation_files import from_png_bytes
from rptui.store.workspace import Workspace
from tests.rptui_tests.class_stack_helpers import PROJECT as CLASS_PROJECT
from tests.rptui_tests.class_stack_helpers import SIDE, K, make_class_workspace, saved_labels
from tests.rptui_tests.screen_helpers import DATASET, PROJECT, make_workspace, run_cli

IMAGES = 4
HEIGHT, WIDTH = 40, 56
SEED = 5  # make_workspace's images: the same seed gives their true masks


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", count=IMAGES, height=HEIGHT, width=WIDTH)


@pytest.fixture
def truth(tmp_path: Path) -> dict[str, np.ndarray]:
    """The true 0/1 mask of every image of the workspace, by stem."""
    masks = tmp_path / "truth"
    write_dataset(tmp_path / "again", count=IMAGES, seed=SEED, height=HEIGHT, width=WIDTH,
                  masks_folder=masks)  # fmt: skip
    return {path.stem: (np.asarray(Image.open(path)) > 0) for path in sorted(masks.iterdir())}


def write_masks(folder: Path, masks: dict[str, np.ndarray], fmt: MaskFormat) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, mask in masks.items():
        (folder / f"{stem}.png").write_bytes(encode_mask(mask.astype(np.uint8), fmt=fmt))
    return folder


def import_masks(workspace: Workspace, folder: Path, *words: str, project: str = PROJECT) -> int:
    """``rptui project import-masks PROJECT FOLDER WORDS...``; its exit status."""
    return run_cli(workspace.root, "project", "import-masks", project, str(folder), *words)


def saved(workspace: Workspace) -> dict[str, tuple[np.ndarray, str]]:
    """Every saved annotation's labels and split."""
    with workspace.open_project(PROJECT, read_only=True) as project:
        files = {stem: (project.load_annotation_png(stem), split) for stem, split in
                 project.annotated().items()}  # fmt: skip
    return {stem: (from_png_bytes(png or b""), split) for stem, (png, split) in files.items()}


@pytest.mark.parametrize("fmt", ["png", "rootpainter", "rve"])
def test_every_mask_labels_every_pixel_of_its_image(
    workspace: Workspace,
    truth: dict[str, np.ndarray],
    tmp_path: Path,
    fmt: MaskFormat,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_masks(tmp_path / fmt, truth, fmt)
    (folder / "notes.txt").write_text("how these were drawn")
    assert import_masks(workspace, folder) == 0
    annotations = saved(workspace)
    assert set(annotations) == set(truth)
    for stem, (labels, _) in annotations.items():
        expected = np.where(truth[stem], FOREGROUND, BACKGROUND)
        assert np.array_equal(labels, expected), stem  # no pixel left unlabelled
    with workspace.open_project(PROJECT, read_only=True) as project:
        first = project.stem(0)
    assert annotations[first][1] == "val"  # the split rule, in project order
    assert {split for _, split in annotations.values()} == {"train", "val"}
    out = capsys.readouterr().out
    assert f"imported {IMAGES} masks" in out and "ignored 1 files" in out


def test_an_unknown_stem_or_a_wrong_size_writes_nothing_and_names_the_files(
    workspace: Workspace,
    truth: dict[str, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_masks(tmp_path / "masks", truth, "png")
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(folder / "root_001.png")
    Image.fromarray(np.zeros((HEIGHT, WIDTH), np.uint8)).save(folder / "weed_7.png")
    assert import_masks(workspace, folder) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "root_001.png (12x10 px, its image is 56x40)" in err
    assert "weed_7.png (no image 'weed_7'" in err
    assert saved(workspace) == {}


def test_annotated_images_keep_their_annotation_unless_replaced(
    workspace: Workspace,
    truth: dict[str, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_masks(tmp_path / "masks", truth, "png")
    assert import_masks(workspace, folder) == 0
    empty = {stem: np.zeros_like(mask) for stem, mask in truth.items()}
    write_masks(folder, empty, "png")
    capsys.readouterr()
    assert import_masks(workspace, folder) == 0
    assert f"kept the annotations of {IMAGES} images" in capsys.readouterr().out
    assert any((labels == FOREGROUND).any() for labels, _ in saved(workspace).values())
    before = {stem: split for stem, (_, split) in saved(workspace).items()}
    assert import_masks(workspace, folder, "--replace") == 0
    after = saved(workspace)
    assert all((labels == BACKGROUND).all() for labels, _ in after.values())
    assert {stem: split for stem, (_, split) in after.items()} == before  # splits never change


def test_label_masks_of_stack_slices_in_a_class_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = make_class_workspace(tmp_path / "ws")
    folder = tmp_path / "labels"
    folder.mkdir()
    labels = np.arange(SIDE * SIDE, dtype=np.uint8).reshape(SIDE, SIDE) % K  # classes 0..K-1
    Image.fromarray(labels).save(folder / "scan_0.z0002.png")
    assert import_masks(workspace, folder, project=CLASS_PROJECT) == 0
    with workspace.open_project(CLASS_PROJECT, read_only=True) as project:
        assert np.array_equal(saved_labels(project, "scan_0.z0002"), labels + 1)

    Image.fromarray(np.full((SIDE, SIDE), K, np.uint8)).save(folder / "scan_1.z0001.png")
    Image.fromarray(labels).save(folder / "scan_1.png")
    assert import_masks(workspace, folder, project=CLASS_PROJECT) == 2
    err = capsys.readouterr().err
    assert f"scan_1.z0001.png (holds class {K}; the project has classes 0..{K - 1})" in err
    assert "scan_1.png (scan_1 is a stack: one mask per slice" in err


def test_a_missing_folder_or_project_is_one_line(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_masks(workspace, tmp_path / "no") == 2
    assert import_masks(workspace, tmp_path, project="nope") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such folder" in err[0] and "nope" in err[1]
    assert DATASET in workspace.list_datasets()
