"""Pieces every subcommand needs: the workspace from the global options."""

from __future__ import annotations

import argparse

from cluster.api import Backend
from rptui.workspace import Workspace, default_workspace_root


def workspace_from(args: argparse.Namespace) -> Workspace:
    """The workspace named by ``--workspace``, ``$RPTUI_WORKSPACE`` or the default."""
    return Workspace(args.workspace or default_workspace_root())


def make_backend(args: argparse.Namespace, project_name: str) -> Backend:
    """The backend the app and commands talk to (one place to choose it)."""
    from cluster.local import LocalBackend

    del args, project_name  # the Ray backend will use the address and the project
    return LocalBackend()
