"""A small generated 3-class CT project of stacks for the app's class and stack tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from cluster.simulate.synthetic_classes import CLASS_NAMES, generate_class_stack
from rptui.store.project import Project
from rptui.store.workspace import Workspace

PROJECT = "ct"
DATASET = "scans"
SLICES = 4
SIDE = 40
N_STACKS = 2
K = len(CLASS_NAMES)  # background and three foreground classes


def make_class_workspace(root: Path, *, stacks: int = N_STACKS, seed: int = 3) -> Workspace:
    """A workspace whose dataset holds ``stacks`` multi-page TIFFs and a 3-class project."""
    workspace = Workspace(root).ensure()
    folder = workspace.dataset_dir(DATASET)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(stacks):
        images, _ = generate_class_stack(
            slices=SLICES, height=SIDE, width=SIDE, classes=K - 1, seed=seed + number
        )
        tifffile.imwrite(folder / f"scan_{number}.tif", images[..., 0], photometric="minisblack")
    project = workspace.create_project(PROJECT, DATASET, classes=CLASS_NAMES, seed=0)
    project.close()
    return workspace


def open_class_project(workspace: Workspace) -> Project:
    """The 3-class project, writable."""
    return workspace.open_project(PROJECT)


def saved_labels(project: Project, name: str) -> np.ndarray:
    """The label PNG saved for ``name`` as an array (AssertionError when there is none)."""
    path = project.annotation_file(name)
    assert path is not None, f"no annotation saved for {name}"
    with Image.open(path) as image:
        assert image.mode == "L"
        return np.asarray(image).copy()
