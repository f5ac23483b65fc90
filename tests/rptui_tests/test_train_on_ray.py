"""Headless training of a workspace project on the Ray actors: models land on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cluster.api import BACKGROUND, FOREGROUND, TrainingConfig
from cluster.backends.ray_backend import RayBackend
from cluster.head.connect import Connection
from cluster.io.model_files import load_model_file
from cluster.simulate.synthetic import write_dataset
from rptui.session.training import EPOCH_LOG_NAME, train_project
from rptui.store.annotation_files import to_png_bytes
from rptui.store.workspace import Workspace

pytestmark = pytest.mark.ray

SIZE = 96
CONFIG = TrainingConfig(tile_size=108, batch_size=2, epoch_tiles=4, seed=0, patience=10_000)
TRAIN_SECONDS = 15.0


def sparse_labels(mask: np.ndarray, seed: int) -> np.ndarray:
    """Corrections a user might paint: some root pixels, a few soil pixels."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(mask.shape, dtype=np.uint8)
    labels[(mask > 0) & (rng.random(mask.shape) < 0.6)] = FOREGROUND
    labels[(mask == 0) & (rng.random(mask.shape) < 0.1)] = BACKGROUND
    return labels


async def test_training_on_ray_writes_models_and_epochs(
    ray_session: Connection, tmp_path: Path
) -> None:
    root = tmp_path / "workspace"
    masks = tmp_path / "masks"
    write_dataset(
        root / "datasets" / "roots", count=4, seed=3, height=SIZE, width=SIZE, masks_folder=masks
    )
    workspace = Workspace(root)
    backend = RayBackend("ray-train-project")
    try:
        with workspace.create_project("ray-train-project", "roots", seed=0) as project:
            for index, stem in enumerate(project.image_names[:3]):
                name = Path(stem).stem
                mask = np.asarray(Image.open(masks / f"{name}.png"))
                project.save_annotation_png(
                    name, None, to_png_bytes(sparse_labels(mask, seed=index))
                )
            assert set(project.annotated().values()) == {"train", "val"}
            status = await train_project(project, backend, CONFIG, seconds=TRAIN_SECONDS)
            models = project.models()
            log_text = (project.logs_dir / EPOCH_LOG_NAME).read_text()
    finally:
        await backend.end_actors()
    assert status.epoch >= 1
    assert models[0].number == 1 and models[-1].number >= 2, models
    newest = load_model_file(models[-1].path)
    assert newest.f1 is not None and newest.f1 == status.best_f1
    assert len(log_text.strip().splitlines()) == status.epoch + 1  # header + one per epoch
