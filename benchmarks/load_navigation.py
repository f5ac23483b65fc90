"""Next/previous image in the app on projects with few or many annotations (load benchmark).

The benchmarks run as scripts from this folder, so they import this module as ``load_navigation``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
from latency_common import SIZE, Samples, press, record_frames

from cluster.io.images import encode_png
from rptui.store.annotation_files import to_png_bytes
from rptui.store.project_config import choose_split
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp

DATASET = "load"


def navigation_workspace(
    root: Path, bases: list[tuple[np.ndarray, np.ndarray]], images: int
) -> Workspace:
    """A dataset of ``images`` PNGs (copies of the generated ones) in a new workspace."""
    workspace = Workspace(root).ensure()
    folder = workspace.dataset_dir(DATASET)
    folder.mkdir(parents=True, exist_ok=True)
    for index, (image, _) in enumerate(bases):
        (folder / f"img{index:05d}.png").write_bytes(encode_png(image))
    for index in range(len(bases), images):
        shutil.copyfile(folder / f"img{index % len(bases):05d}.png", folder / f"img{index:05d}.png")
    return workspace


def annotate_project(
    workspace: Workspace, name: str, bases: list[tuple[np.ndarray, np.ndarray]], count: int
) -> None:
    """A project whose first ``count`` images (in its order) have saved annotations."""
    project = workspace.create_project(name, DATASET, seed=0)
    try:
        for index in range(count):
            stem = project.stem(index)
            labels = bases[int(stem[3:]) % len(bases)][1]
            split = choose_split(project.config.splits)
            path = project.annotation_path(stem, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(to_png_bytes(labels))
            project.config.splits[stem] = split
        project.save_config()
    finally:
        project.close()


async def navigation(
    workspace: Workspace, name: str, presses: int, span: int
) -> tuple[Samples, float]:
    """Next/previous key to frame among the first ``span`` images; and open-to-first-frame s."""
    project = workspace.open_project(name)
    app = RptuiApp(workspace, project=project, backend_factory=None)
    frames = record_frames(app)
    samples = Samples()
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        opened = (frames[0].done - started) if frames else float("nan")
        for index in range(presses):
            forward = (index // (span - 1)) % 2 == 0
            await press(pilot, frames, "n" if forward else "p", samples)
    return samples, opened
