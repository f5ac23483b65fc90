"""Run ``rptui segment`` as a child process and follow the JSON lines it reports."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rptui.folders.run import FolderReport
from rptui.tui.screens.folder_job import FolderJob

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str, str], None]  # done, total, file name, error ("" if none)
Waiting = Callable[[str], None]  # why nothing has come back yet
Child = subprocess.Popen[str]


def run_child(
    job: FolderJob,
    command: tuple[str, ...],
    progress: Progress,
    *,
    stopped: Callable[[], bool],
    track: Callable[[Child | None], None],
    waiting: Waiting | None = None,
) -> tuple[FolderReport, list[Path]]:
    """Run ``job`` through ``command`` (it drives Ray Data); the report and tables written.

    ``track`` is told the child while it runs (so that a cancel can end it) and None after;
    ``stopped`` says whether the run was cancelled; ``waiting`` hears why nothing has come
    back yet. RuntimeError with the child's last error line when it fails.
    """
    child = subprocess.Popen(
        [*command, *job.segment_arguments()],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    track(child)
    summary: dict[str, Any] | None = None
    assert child.stdout is not None and child.stderr is not None
    for line in child.stdout:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:  # not one of ours: the log has it
            log.info("segment: %s", line.rstrip())
            continue
        if "report" in message:
            summary = message["report"]
        elif "waiting" in message:
            if waiting is not None:
                waiting(str(message["waiting"]))
        else:
            progress(message["done"], message["total"], message["file"], message["error"])
    errors = child.stderr.read()
    child.wait()
    track(None)
    if summary is not None:
        return FolderReport.from_summary(summary)
    if stopped():  # cancelled: what was written stays (runs are resumable)
        return FolderReport(cancelled=True), []
    last = errors.strip().splitlines()[-1] if errors.strip() else f"exit {child.returncode}"
    raise RuntimeError(last)
