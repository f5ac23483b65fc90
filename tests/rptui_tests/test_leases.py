"""Several annotators on one project: image leases and project.json under concurrent accepts."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cluster.api import EpochRecord, Split
from cluster.io.atomic import write_png_atomic
from rptui.session.review import ReviewSession
from rptui.session.training import EPOCH_LOG_NAME, append_epoch_log
from rptui.store.annotator import Annotator
from rptui.store.leases import ImageLeases, lease_file_name, read_lease
from rptui.store.paths import WorkspaceError
from rptui.store.project_config import PROJECT_FILE_NAME, ProjectConfig, choose_split, save_config
from rptui.store.workspace import Workspace

N_IMAGES = 40
PER_PROCESS = 20
SLOW_WRITE_S = 0.01


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    for i in range(N_IMAGES):
        write_png_atomic(ws.datasets_dir / "roots" / f"img_{i:02d}.png", np.zeros((4, 4), "u1"))
    ws.create_project("p", "roots").close()
    return ws


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _lease_file(root: Path, image: str, **fields: object) -> Path:
    folder = ImageLeases(root, Annotator("writer")).folder
    path = folder / lease_file_name(image)
    path.write_text(json.dumps(fields))
    return path


def _accept_many(root: str, name: str, stems: list[str], go: str) -> None:
    """One annotator's app: open the project and accept ``stems`` as fast as it can, on a
    slow disk (project.json takes SLOW_WRITE_S to write: a wide window for a race)."""
    import rptui.store.shared_config as shared_config

    def slow_save(path: Path, config: ProjectConfig) -> None:
        time.sleep(SLOW_WRITE_S)
        save_config(path, config)

    shared_config.save_config = slow_save
    workspace = Workspace(root, annotator=Annotator.current(name))
    project = workspace.open_project("p")
    (Path(go).parent / f"ready-{name}").touch()
    while not Path(go).exists():
        time.sleep(0.001)
    for stem in stems:
        project.save_annotation_png(stem, None, b"png")
    project.close()


def test_concurrent_accepts_from_two_processes_keep_every_entry(workspace: Workspace) -> None:
    stems = [f"img_{i:02d}" for i in range(2 * PER_PROCESS)]
    go = workspace.root / "go"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=_accept_many,
            args=(str(workspace.root), name, stems[k::2], str(go)),
        )
        for k, name in enumerate(("ana", "ben"))
    ]
    for worker in workers:
        worker.start()
    ready = [workspace.root / f"ready-{name}" for name in ("ana", "ben")]
    deadline = time.monotonic() + 60
    while not all(path.exists() for path in ready) and time.monotonic() < deadline:
        time.sleep(0.01)  # both opened the project and wait
    go.touch()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    on_disk = json.loads((workspace.project_dir("p") / PROJECT_FILE_NAME).read_text())
    assert set(on_disk["splits"]) == set(stems)
    # The split rule holds for the whole as if the accepts had come one after the other.
    expected: dict[str, Split] = {}
    for stem in stems:
        expected[stem] = choose_split(expected)
    assert sorted(on_disk["splits"].values()) == sorted(expected.values())
    names = {stem: [r["name"] for r in on_disk["annotated_by"][stem]] for stem in stems}
    assert names == {stem: ["ana" if i % 2 == 0 else "ben"] for i, stem in enumerate(stems)}
    reopened = workspace.open_project("p")
    assert set(reopened.annotated()) == set(stems)
    reopened.close()


def test_each_annotation_records_who_saved_it_and_when(workspace: Workspace) -> None:
    project = Workspace(workspace.root, annotator=Annotator.current("Ana")).open_project("p")
    before = time.time()
    project.save_annotation_png("img_03", None, b"png")
    project.save_annotation_png("img_03", None, b"png2")
    (first, second) = project.annotators_of("img_03")
    assert first["name"] == "Ana" and first["user"] == Annotator.current().user
    assert before <= float(str(first["time"])) <= float(str(second["time"])) <= time.time()
    project.close()
    with pytest.raises(WorkspaceError, match="control character"):
        Annotator.current("Ana\x1b[2J")


LEASE_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rptui.store.annotator import Annotator
    from rptui.store.leases import ImageLeases

    leases = ImageLeases(Path(sys.argv[1]), Annotator("ben", "Ben"))
    print("took" if leases.take(sys.argv[2]) else "held", flush=True)
    time.sleep(60)
    """
)


def test_a_live_lease_is_skipped_and_a_killed_holders_lease_frees(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", LEASE_HOLDER, str(tmp_path), "img_01"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "took"
        mine = ImageLeases(tmp_path, Annotator("ana"))
        assert not mine.take("img_01")
        other = mine.holder("img_01")
        assert other is not None and other.pid == holder.pid and other.annotator == "Ben (ben)"
        assert mine.leased_by_others(["img_00", "img_01", "img_02"]) == {"img_01"}
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        assert mine.take("img_01")  # the pid is dead on this host: free at once
        on_disk = read_lease(mine.path("img_01"))
        assert on_disk is not None and on_disk.pid == os.getpid() and on_disk.annotator == "ana"
    finally:
        holder.kill()
        holder.wait(10)


def test_expired_dead_and_garbage_leases_are_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = time.time()
    host = socket.gethostname()
    common = {"annotator": "ben", "since": now - 10, "token": "t"}
    _lease_file(tmp_path, "a", stem="a", host="elsewhere", pid=1, expires=now - 1, **common)
    _lease_file(tmp_path, "b", stem="b", host=host, pid=_dead_pid(), expires=now + 99, **common)
    _lease_file(tmp_path, "c", stem="c", host="elsewhere", pid=1, expires=now + 99, **common)
    garbage = _lease_file(tmp_path, "d")
    garbage.write_bytes(b"\x00\xff{not a lease")
    _lease_file(tmp_path, "e", stem="e", host=host, pid=os.getpid(), expires="never", **common)
    leases = ImageLeases(tmp_path, Annotator("ana"))
    with caplog.at_level(logging.WARNING):
        taken = {stem: leases.take(stem) for stem in "abcde"}
    assert taken == {"a": True, "b": True, "c": False, "d": True, "e": True}
    invalid = [r for r in caplog.records if "invalid lease" in r.getMessage()]
    assert len(invalid) == 2 and all(r.exc_info is None for r in invalid)
    assert "Traceback" not in caplog.text


def test_renewing_keeps_a_lease_and_a_lost_lease_is_never_released(tmp_path: Path) -> None:
    leases = ImageLeases(tmp_path, Annotator("ana"), ttl=5.0)
    assert leases.take("img")
    first = read_lease(leases.path("img"))
    time.sleep(0.01)
    leases.renew(every=0)
    renewed = read_lease(leases.path("img"))
    assert first is not None and renewed is not None and renewed.expires > first.expires
    # Another app took it over (ours had expired): ours is lost, theirs stays.
    theirs = {**renewed.to_json(), "token": "theirs", "annotator": "ben"}
    leases.path("img").write_text(json.dumps(theirs))
    assert not leases.take("img")
    leases.release("img")
    kept = read_lease(leases.path("img"))
    assert kept is not None and kept.token == "theirs"


def test_lease_and_lock_files_are_never_world_writable(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = os.umask(0)
    try:
        monkeypatch.setattr("cluster.io.atomic._UMASK", 0)
        project = workspace.open_project("p")
        assert project.leases is not None and project.leases.take("img_00")
        project.save_annotation_png("img_00", None, b"png")
        made = [
            project.leases.folder,
            project.leases.folder.parent,
            project.leases.path("img_00"),
            project.config_path.with_name(".project.json.lock"),
        ]
        for path in made:
            assert not path.stat().st_mode & stat.S_IWOTH, path
        project.close()
    finally:
        os.umask(old)


def test_read_modify_write_keeps_another_apps_records(workspace: Workspace) -> None:
    ana = workspace.open_project("p")
    ben = workspace.open_project("p")
    ana.save_annotation_png("img_00", None, b"png")
    ben.set_position(5, reviewed=True)  # ben's copy never saw img_00's split
    ben.config.settings.order = "uncertain"
    ben.save_config()
    ana.pin_model(None)
    on_disk = json.loads((workspace.project_dir("p") / PROJECT_FILE_NAME).read_text())
    assert on_disk["splits"] == {"img_00": "val"}
    assert on_disk["reviewed"] == [ben.stem(5)]
    assert ben.split_of("img_00") == "val"  # taken in by ben's write
    ana.reload_config()
    assert ana.config.reviewed == {ben.stem(5)}
    ana.close()
    ben.close()


def test_sessions_serve_around_each_other_and_pass_over_the_others_work(
    workspace: Workspace,
) -> None:
    def session(name: str) -> ReviewSession:
        annotator = Annotator.current(name)
        return ReviewSession(Workspace(workspace.root, annotator=annotator).open_project("p"))

    ana, ben = session("ana"), session("ben")
    assert (ana.viewer.index, ben.viewer.index) == (0, 1)  # ben opens where ana is not
    ben.brush.paint_point(1, 1)
    assert [item.name for item in ben.accept()] == [ben.project.stem(1)]
    assert ben.viewer.index == 2
    ana.skip()
    assert ana.viewer.index == 3  # 1 is ben's work, 2 is ben's now
    ben.project.close()
    for _ in range(3):
        ana.previous()
    assert ana.viewer.index == 0 and ana.held_by is None
    ana.skip()
    assert ana.viewer.index == 2  # the fixed order passes over ben's work
    again = session("ben")
    again.goto(again.project.stem(0))
    again.skip()
    assert again.viewer.index == 1  # but not over one's own
    ana.project.close()
    again.project.close()


def test_two_apps_following_one_trainer_log_each_epoch_once(workspace: Workspace) -> None:
    def record(epoch: int) -> EpochRecord:
        return EpochRecord(
            epoch, 1000.0 + epoch, 0.5, 1, 2, 3, 4, 0.5, 0.5, 0.5, 9.0, 8, 252, 2, True
        )

    ana, ben = workspace.open_project("p"), workspace.open_project("p")
    append_epoch_log(ana, [record(1), record(2)])
    append_epoch_log(ben, [record(1), record(2), record(3)])  # ben's poll saw epoch 3 too
    append_epoch_log(ana, [record(3)])
    rows = (ana.logs_dir / EPOCH_LOG_NAME).read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["1", "2", "3"]
    ana.close()
    ben.close()
