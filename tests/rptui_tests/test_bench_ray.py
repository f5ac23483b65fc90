"""`rptui bench` through the real Ray actors: the segmenter serves, the trainer learns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from cluster.api import ModelSnapshot
from cluster.backends.ray_backend import RayBackend
from cluster.head.connect import Connection
from cluster.simulate.synthetic import write_dataset
from rptui.bench.options import BenchOptions
from rptui.bench.records import IMAGES_CSV, REPORT_JSON
from rptui.bench.run import run_bench

pytest.importorskip("cluster.simulate.strokes")
pytest.importorskip("cluster.simulate.annotation_time")

pytestmark = pytest.mark.ray

SIZE = 52  # one 124-px tile (52 px out) an image
TILE = 124


class WatchedBackend(RayBackend):
    """The production backend, noting what its segmenter actor did before it ends."""

    processed_names: ClassVar[list[str]] = []

    async def end_actors(self) -> None:
        WatchedBackend.processed_names = [p.name for p in await self.processed()]
        await super().end_actors()


def test_bench_runs_through_the_actors(ray_session: Connection, tmp_path: Path) -> None:
    import ray

    images, masks = tmp_path / "images", tmp_path / "masks"
    write_dataset(images, count=5, seed=8, height=SIZE, width=SIZE, masks_folder=masks)
    options = BenchOptions(
        images=images,
        masks=masks,
        out=tmp_path / "run",
        test_fraction=0.4,
        seconds=300.0,
        finish_seconds=30.0,
        tile_size=TILE,
        batch_size=2,
        epoch_tiles=4,
        patience=1,
        pace="none",
        max_clear_examples=2,
        eval_models=1,
    )

    def make_backend(start: ModelSnapshot) -> RayBackend:
        return WatchedBackend("bench-ray-test", start_model=start, tile_size=TILE)

    report = run_bench(options, make_backend)
    rows = pd.read_csv(options.out / IMAGES_CSV, keep_default_na=False)
    assert len(rows) == 3 and (rows["spill_px"] == 0).all()
    assert set(rows["image"]) <= set(WatchedBackend.processed_names)  # the actor segmented
    assert report["training"]["epochs"] >= 1
    assert json.loads((options.out / REPORT_JSON).read_text())["held_out"]["test_images"] == 2
    actors = {a["name"] for a in ray.util.list_named_actors(all_namespaces=True)}
    assert not any("bench-ray-test" in name for name in actors)  # a bench ends its actors
