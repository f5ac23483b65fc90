"""One annotator's app in a process of its own, headless, driven line by line.

``python -m tests.rptui_tests.annotator_process RPTUI-ARGS...`` parses the arguments as
``rptui`` does (e.g. ``--workspace WS --address A --annotator Ana open demo``), keeps
Ray's output off the terminal as ``rptui`` does, and runs the app on the project with
its real backend (a child process joined to Ray), under Textual's Pilot instead of a
terminal. It reads one command per line on standard input and answers each with one
JSON line on standard output:

- ``state``: the app's state (see :func:`state_of`);
- ``accept``: paint a point at the cursor and press Enter; answered once the image is
  saved in the project and another is shown;
- ``wait-annotations N``: answered once the trainer holds N annotations or more;
- ``quit``: close the app (its leases are given back) and exit.

A failed wait answers ``{"error": ...}``; the process keeps going.

On a busy machine starting the backend child (torch, Ray) and the actors behind it can
take minutes, so the app here waits longer than the app's defaults before it calls the
backend lost; what the app does is otherwise unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial

from textual.pilot import Pilot

import rptui.tui.app
from cluster.api import Backend
from cluster.backends.isolated import IsolatedBackend
from rptui.cli import build_parser
from rptui.commands.common import keep_ray_off_the_terminal, make_backend, workspace_from
from rptui.session.link.backend_link import BackendLink
from rptui.session.link.wait import LinkTimings
from rptui.tui.app import RptuiApp
from rptui.tui.screens.annotate import AnnotateScreen

APP_SIZE = (100, 30)
WAIT_S = 60.0
POLL_S = 0.1
PATIENCE_S = 300.0  # the backend's start, and any one call to it
READY_S = 2 * PATIENCE_S  # the app starts, then its backend child joins Ray


def patient_backend(args: argparse.Namespace, project_name: str) -> Backend:
    """The app's backend (:func:`rptui.commands.common.isolated_backend`), given longer
    to start."""
    if args.in_process:
        return make_backend(args, project_name)
    return IsolatedBackend(partial(make_backend, args, project_name), start_timeout_s=PATIENCE_S)


def be_patient() -> None:
    """The app waits PATIENCE_S for its backend to start and for each call."""
    setattr(rptui.tui.app, "BACKEND_START_TIMEOUT_S", PATIENCE_S)  # noqa: B010
    patient_link = partial(BackendLink, timings=LinkTimings(call_s=PATIENCE_S))
    setattr(rptui.tui.app, "BackendLink", patient_link)  # noqa: B010


def state_of(app: RptuiApp) -> dict[str, object]:
    """What the test reads: processes, the image shown, leases seen, the trainer's count."""
    screen = app.screen
    link = app.link
    found: dict[str, object] = {"pid": os.getpid()}
    if link is not None:
        status = link.status
        found["online"] = link.online
        found["backend_pid"] = getattr(link.backend, "pid", None)
        found["trainer_annotations"] = None if status is None else status.n_train + status.n_val
    if isinstance(screen, AnnotateScreen):
        session = screen.session
        stems = [session.project.stem(i) for i in range(len(session.project))]
        found["shown"] = session.viewer.stem
        found["held_by"] = None if session.held_by is None else session.held_by.annotator
        found["leased_by_others"] = sorted(session.order.leased_elsewhere(stems))
    return found


def answer(reply: dict[str, object]) -> None:
    """One JSON line on the real standard output (the app captures ``print``)."""
    out = sys.__stdout__
    assert out is not None
    out.write(json.dumps(reply) + "\n")
    out.flush()


async def until(app: RptuiApp, condition: Callable[[], bool], seconds: float) -> bool:
    """Let the app run until ``condition()`` holds; False after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True


def trainer_holds(app: RptuiApp, count: int) -> bool:
    link = app.link
    status = None if link is None else link.status
    return status is not None and status.n_train + status.n_val >= count


async def accept(app: RptuiApp, pilot: Pilot[None]) -> dict[str, object]:
    """Paint a point, press Enter, and wait until the image is saved and another shown."""
    screen = app.screen
    assert isinstance(screen, AnnotateScreen)
    session = screen.session
    stem = session.viewer.stem
    await pilot.press("space", "enter")
    saved = await until(
        app,
        lambda: session.project.split_of(stem) is not None and session.viewer.stem != stem,
        WAIT_S,
    )
    return {"accepted": stem, **state_of(app)} if saved else {"error": "not saved"}


async def wait_annotations(app: RptuiApp, count: int) -> dict[str, object]:
    """The state once the trainer holds ``count`` annotations or more."""
    held = await until(app, lambda: trainer_holds(app, count), WAIT_S)
    return state_of(app) if held else {"error": "trainer count", **state_of(app)}


async def drive(app: RptuiApp) -> None:
    async with app.run_test(size=APP_SIZE) as pilot:
        ready = await until(
            app, lambda: app.link is not None and app.link.status is not None, READY_S
        )
        answer({"ready": ready, **state_of(app)})
        while True:
            words = (await asyncio.to_thread(sys.stdin.readline)).split()
            if not words or words[0] == "quit":
                break
            if words[0] == "accept":
                answer(await accept(app, pilot))
            elif words[0] == "wait-annotations":
                answer(await wait_annotations(app, int(words[1])))
            else:
                answer(state_of(app))
        await pilot.pause()


def main() -> None:
    args = build_parser().parse_args(sys.argv[1:])
    workspace = workspace_from(args).ensure()
    keep_ray_off_the_terminal(args)
    be_patient()
    project = workspace.open_project(args.project)
    app = RptuiApp(
        workspace, project=project, backend_factory=partial(patient_backend, args), animate=False
    )
    asyncio.run(drive(app))
    answer({"closed": True})


if __name__ == "__main__":
    main()
