"""Pieces every subcommand needs: the workspace, Ray's output kept off the terminal, the backend."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from cluster.api import Backend, ModelSnapshot
from rptui.errors import UserError
from rptui.exit_watch import watch_sudden_exit
from rptui.store.annotator import Annotator
from rptui.store.workspace import Workspace, default_workspace_root

if TYPE_CHECKING:
    from rptui.store.project import Project
    from rptui.tui.graphics.hub import GraphicsHub

log = logging.getLogger(__name__)

DRIVER_LOG = "ray-driver.log"


def check_writable(project: Project) -> None:
    """UserError saying why when ``project`` was opened read-only (another session holds it)."""
    if project.read_only:
        raise UserError(f"project {project.name} is read-only: {project.read_only_reason}")


def workspace_from(args: argparse.Namespace) -> Workspace:
    """The workspace named by ``--workspace``, ``$RPTUI_WORKSPACE`` or the default.

    Raises:
        UserError: the path (or a folder above it) is a file.
    """
    name = getattr(args, "annotator", None)
    workspace = Workspace(
        args.workspace or default_workspace_root(), annotator=Annotator.current(name)
    )
    for path in (workspace.root, *workspace.root.parents):
        if path.exists():
            if not path.is_dir():
                raise UserError(
                    f"the workspace {workspace.root} cannot be used: {path} is a file, "
                    "not a folder (see --workspace and $RPTUI_WORKSPACE)"
                )
            break
    return workspace


def keep_ray_off_the_terminal(args: argparse.Namespace) -> None:
    """Send what Ray's native code prints to a log in the workspace.

    Call it before anything draws on the terminal (the app, a progress bar): the
    terminal stays reachable through ``sys.stderr`` while file descriptor 2, where
    Ray's core writes, goes to ``<workspace>/logs/ray-driver.log``; should Ray's core
    end the process, the log's last lines are printed (:mod:`rptui.exit_watch`).
    """
    if args.in_process:
        return
    from cluster.head.connect import divert_native_stderr

    workspace = workspace_from(args)
    log_path = workspace.root / "logs" / DRIVER_LOG
    divert_native_stderr(log_path)
    watch_sudden_exit(log_path, sys.__stderr__)  # if Ray's core ends us, the log says why


def terminal_graphics(args: argparse.Namespace) -> GraphicsHub:
    """How the app shows pictures: what the terminal offers, or the path ``--graphics`` forces.

    Call it before the app starts: the terminal is asked, and its replies read, directly.
    """
    from rptui.tui.graphics.detect import detect
    from rptui.tui.graphics.hub import GraphicsHub

    return GraphicsHub(detect(args.graphics))


def rptui_command(args: argparse.Namespace) -> list[str]:
    """This ``rptui`` with the same workspace, address and mode, for child processes."""
    words = [sys.executable, "-m", "rptui.cli", "--workspace", str(workspace_from(args).root)]
    if args.address:
        words += ["--address", args.address]
    if args.in_process:
        words.append("--in-process")
    return words


def newest_model_of(workspace: Workspace, project_name: str) -> ModelSnapshot | None:
    """The project's newest saved model, for the segmenter to start with."""
    from cluster.io.model_files import load_model_file

    project = workspace.open_project(project_name, read_only=True)
    newest = project.newest_model()
    return load_model_file(newest.path) if newest is not None else None


def connect_ray(args: argparse.Namespace) -> None:
    """Join Ray as a driver unless already joined (or ``--in-process``).

    Call it before an app runs: Ray's start-up needs the real terminal streams, which
    a running Textual app has replaced.
    """
    import ray

    if args.in_process or ray.is_initialized():
        return
    from cluster.head.connect import connect

    workspace = workspace_from(args)
    connection = connect(workspace.root, args.address or os.environ.get("RAY_ADDRESS"))
    log.info("connected to Ray at %s (namespace %s)", connection.address, connection.namespace)


def make_backend(args: argparse.Namespace, project_name: str) -> Backend:
    """The backend the app and commands talk to: Ray (embedded or ``--address``), or
    this process with ``--in-process``."""
    workspace = workspace_from(args)
    start_model = newest_model_of(workspace, project_name)
    if args.in_process:
        from cluster.backends.local import LocalBackend

        return LocalBackend(start_model=start_model)
    from cluster.backends.ray_backend import RayBackend

    connect_ray(args)
    return RayBackend(project_name, start_model=start_model)


def app_backend_factory(args: argparse.Namespace) -> Callable[[str], Backend]:
    """The app's backend factory: the Ray backend runs in a child process, so the app
    outlives anything Ray does (its native core ends a driver whose head stopped); the
    app goes offline and calls the factory again for a fresh child."""
    return partial(isolated_backend, args)


def isolated_backend(args: argparse.Namespace, project_name: str) -> Backend:
    """:func:`make_backend` in a child process (in this process with ``--in-process``)."""
    if args.in_process:
        return make_backend(args, project_name)
    from cluster.backends.isolated import IsolatedBackend

    return IsolatedBackend(partial(make_backend, args, project_name))
