"""The demo: a generated dataset with ground truth, a project on it, first annotations.

Everything here is made locally and deterministically from a seed; nothing is
downloaded. The ground-truth masks live beside the dataset (not in it), so the demo
can say how good the model has become on images nobody annotated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cluster.inference.tiled import segment_probability
from cluster.io.images import read_image, read_mask
from cluster.io.model_metadata import model_threshold
from cluster.nn.snapshot import model_from_snapshot
from cluster.simulate.clear_examples import clear_example_labels
from cluster.simulate.synthetic import write_dataset
from cluster.training.confusion import Confusion, confusion
from rptui.session.training import ensure_start_model
from rptui.store.annotation_files import to_png_bytes
from rptui.store.project import Project
from rptui.store.workspace import Workspace

log = logging.getLogger(__name__)

DEMO_DATASET = "demo-roots"
DEMO_PROJECT = "demo"
TRUTH_FOLDER = "demo-truth"
CLEAR_EXAMPLES = 6  # the paper's protocol: the first six images are clear examples


@dataclass(frozen=True)
class DemoSetup:
    """What the demo made (or found from an earlier run)."""

    project: Project
    truth_dir: Path
    annotated: list[str]


def prepare_demo(
    workspace: Workspace, *, images: int, size: int, seed: int, clear_examples: int
) -> DemoSetup:
    """Generate the dataset and truth (once), open or create the project, paint examples."""
    workspace.ensure()
    dataset_dir = workspace.dataset_dir(DEMO_DATASET)
    truth_dir = workspace.root / TRUTH_FOLDER
    if not dataset_dir.is_dir():
        write_dataset(
            dataset_dir, count=images, seed=seed, height=size, width=size, masks_folder=truth_dir
        )
    if (workspace.projects_dir / DEMO_PROJECT / "project.json").is_file():
        project = workspace.open_project(DEMO_PROJECT)
    else:
        project = workspace.create_project(DEMO_PROJECT, DEMO_DATASET, seed=seed)
    rng = np.random.default_rng(seed)
    annotated = []
    for index in range(min(clear_examples, len(project))):
        stem = project.stem(index)
        if project.split_of(stem) is None and not project.read_only:
            truth = read_mask(truth_dir / project.image_names[index], kind="binary")
            labels = clear_example_labels(truth, rng=rng)
            project.save_annotation_png(stem, None, to_png_bytes(labels))
        annotated.append(stem)
    return DemoSetup(project, truth_dir, annotated)


def held_out_f1(setup: DemoSetup, *, limit: int = 8) -> tuple[float, int]:
    """F1 of the project's newest model over every pixel of images nobody annotated."""
    project = setup.project
    snapshot = ensure_start_model(project)
    model = model_from_snapshot(snapshot).eval()
    total = Confusion()
    unseen = [i for i in range(len(project)) if project.split_of(project.stem(i)) is None]
    for index in unseen[:limit]:
        image = read_image(project.image_path(index))
        truth = read_mask(setup.truth_dir / project.image_names[index], kind="binary")
        probability = segment_probability([model], image, tile_size=snapshot.tile_size, tta=False)
        predicted = probability > model_threshold(snapshot.metadata)
        total = total + confusion(predicted, truth + 1)
    return total.f1, min(limit, len(unseen))
