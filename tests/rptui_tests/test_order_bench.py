"""`rptui bench --order uncertain` on tiny generated images with the in-process backend."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cluster.simulate.synthetic import write_dataset
from rptui.bench.records import IMAGES_CSV, REPORT_JSON
from rptui.cli import main
from rptui.session.order import SCORES_FILE_NAME

pytest.importorskip("cluster.simulate.strokes")
pytest.importorskip("cluster.simulate.annotation_time")

SIZE = 52  # with 124-px tiles (52 px out): one tile an image
IMAGES = 8  # 6 to annotate, 2 held out
OPTIONS = [
    *("--tile-size", "124", "--batch-size", "2", "--epoch-tiles", "4"),
    *("--pace", "none", "--seconds", "300", "--finish-seconds", "0", "--patience", "1"),
    *("--eval-models", "1", "--test-fraction", "0.25", "--seed", "3"),
    *("--strategy", "corrective", "--max-clear-examples", "2"),
]


def test_an_uncertain_order_bench_serves_each_image_once_by_score(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    write_dataset(images, count=IMAGES, seed=7, height=SIZE, width=SIZE, masks_folder=masks)
    out = tmp_path / "run"
    args = ["--in-process", "--workspace", str(tmp_path / "ws"), "bench"]
    args += ["--images", str(images), "--masks", str(masks), "--out", str(out)]
    assert main([*args, *OPTIONS, "--order", "uncertain"]) == 0
    rows = pd.read_csv(out / IMAGES_CSV, keep_default_na=False)
    assert len(rows) == IMAGES - 2
    assert rows["image"].is_unique  # never the same image twice
    project = out / "workspace" / "projects" / "bench"
    settings = json.loads((project / "project.json").read_text())["settings"]
    assert settings["order"] == "uncertain"
    scores = json.loads((project / SCORES_FILE_NAME).read_text())
    assert set(rows["image"][1:]) <= set(scores)  # every image after the first was scored
    assert all(0.0 <= s["score"] <= 2.0 and s["model_version"] >= 1 for s in scores.values())
    report = json.loads((out / REPORT_JSON).read_text())
    assert report["options"]["order"] == "uncertain"  # the run says how it was served
    assert 0.0 <= report["held_out"]["f1"] <= 1.0
