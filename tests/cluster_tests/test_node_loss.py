"""Losing the worker node of a two-node cluster: while a project trains, and while a
batch run segments a folder.

A node is lost the hard way (every process of it killed at once); a new worker node
then joins. The trainer is recreated there and sent the annotations again, and until
a node can hold it the backend says so in one line; the batch run finishes every image,
writing each mask once.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from PIL import Image

from cluster.io.model_files import save_model
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import snapshot_from_model
from cluster.simulate.synthetic import generate_root_image
from tests.cluster_tests import two_nodes_cluster
from tests.cluster_tests.two_nodes_cluster import WORKER_RESOURCE, TwoNodes

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # minutes on a small machine: -m slow

REPOSITORY = Path(__file__).resolve().parents[2]
LOSS_CHECK_S = 1.5  # how soon the head notices a lost node
RUN_TIMEOUT_S = 240.0
IMAGES = 6
# The batch worker's line for each image it starts, in its worker log on its node.
STARTED = re.compile(r"INFO cluster\.batch\.worker: segmenting (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodes]:
    root = tmp_path_factory.mktemp("node-loss").resolve()
    (root / "cluster").mkdir()
    (root / "driver" / "workspace").mkdir(parents=True)
    with two_nodes_cluster.running(
        root, guarded=[root / "driver"], loss_check_s=LOSS_CHECK_S
    ) as nodes:
        yield nodes


@dataclass
class Driver:
    """A driver process: its output read line by line, its errors kept in a file (a
    pipe that nobody reads could fill and stall it)."""

    process: subprocess.Popen[str]
    errors_file: IO[str]

    def errors(self) -> str:
        self.errors_file.seek(0)
        return self.errors_file.read()[-3000:]

    def line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the driver ended: {self.errors()}"
        return line.strip()

    def rest(self) -> str:
        """Everything it writes until it ends (read through the same buffer as
        :meth:`line`, so a line already read ahead is not lost)."""
        assert self.process.stdout is not None
        out = self.process.stdout.read()
        self.process.wait(timeout=RUN_TIMEOUT_S)
        return out


@contextlib.contextmanager
def _driver(cluster: TwoNodes, command: list[str], *, talks: bool = False) -> Iterator[Driver]:
    """``command`` run as a driver of ``cluster`` (its input written when it ``talks``),
    killed on the way out if it still runs."""
    with tempfile.TemporaryFile("w+") as errors_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if talks else None,
            stdout=subprocess.PIPE,
            stderr=errors_file,
            text=True,
            env=cluster.driver_environment(),
            cwd=REPOSITORY,
        )
        try:
            yield Driver(process, errors_file)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def _tell(driver: Driver, word: str) -> None:
    assert driver.process.stdin is not None
    driver.process.stdin.write(word + "\n")
    driver.process.stdin.flush()


def test_the_trainer_comes_back_on_a_new_node(cluster: TwoNodes) -> None:
    workspace = cluster.root / "driver" / "workspace"
    module = "tests.cluster_tests.two_nodes_loss_driver"
    command = [sys.executable, "-m", module, str(workspace), cluster.address]
    with _driver(cluster, command, talks=True) as driver:
        assert driver.line() == "trained"
        two_nodes_cluster.kill_worker(cluster)
        _tell(driver, "killed")
        said = driver.line()
        assert said.startswith("no-node ") and f"resource '{WORKER_RESOURCE}'" in said
        replaced = time.monotonic()
        two_nodes_cluster.add_worker(cluster)
        joined_s = time.monotonic() - replaced
        _tell(driver, "replaced")
        seen = json.loads(driver.line())
        assert driver.process.wait(timeout=RUN_TIMEOUT_S) == 0, driver.errors()
    print(f"node joined in {joined_s:.1f} s; {seen}")
    assert seen["restarts_seen"] >= 1 and seen["counts"] == [1, 1]
    assert seen["state"] == "training" and seen["epoch_after"] > seen["first_epoch"]
    assert seen["node_after"] != seen["node_before"]
    # Nothing of the workspace was read on a worker node, before or after the loss.
    guard = cluster.guard_log.read_text().splitlines()
    assert not [line for line in guard if line.startswith("access ")]


def test_a_batch_run_finishes_every_image_after_the_node_is_lost(cluster: TwoNodes) -> None:
    driver_root = cluster.root / "driver"
    images, masks = driver_root / "images", driver_root / "masks"
    images.mkdir()
    for index in range(IMAGES):
        image, _ = generate_root_image(seed=20 + index, height=96, width=128)
        Image.fromarray(image).save(images / f"root{index}.png")
    model = driver_root / "model.pt"
    save_model(model, snapshot_from_model(UNetGNRes(), version=1))
    command = [str(Path(sys.executable).with_name("rptui")), "--workspace"]
    command += [str(driver_root / "workspace"), "--address", cluster.address, "segment"]
    command += [str(images), str(masks), "--model", str(model), "--no-tta", "--progress-jsonl"]
    command += ["--worker-resource", WORKER_RESOURCE]
    with _driver(cluster, command) as run:
        first = json.loads(run.line())
        while "done" not in first:  # a line on why no result has come yet
            first = json.loads(run.line())
        assert first["done"] == 1 and not first["error"]
        written_before = {path.name: path.stat().st_mtime_ns for path in masks.glob("*.png")}
        killed = two_nodes_cluster.kill_worker(cluster)
        two_nodes_cluster.add_worker(cluster)
        out = run.rest()
        finished_s = time.monotonic() - killed
        assert run.process.returncode == 0, run.errors()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    report = lines[-1]["report"]
    progress = [line for line in lines if "done" in line]
    started = Counter(
        name for log in cluster.worker_logs() for name in STARTED.findall(log.read_text())
    )
    redone = sorted(name for name, times in started.items() if times > 1)
    print(
        f"finished {finished_s:.1f} s after the loss; {len(written_before)} written before;"
        f" started {sum(started.values())} times for {IMAGES} images; re-done: {redone}"
    )
    assert not report["failed"] and len(report["written"]) == IMAGES
    files = [first["file"]] + [line["file"] for line in progress]
    assert len(set(files)) == len(files) == IMAGES  # each image reported once
    # Every image was segmented on a worker node, and what came back before the loss
    # was not computed again: only images the lost node held are re-done.
    assert set(started) == {Path(file).name for file in files}
    assert started[Path(first["file"]).name] == 1
    # A mask written before the loss is never written again.
    for name, mtime in written_before.items():
        assert (masks / name).stat().st_mtime_ns == mtime
