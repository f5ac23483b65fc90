"""Pieces every subcommand needs: the workspace from the global options."""

from __future__ import annotations

import argparse

from rptui.workspace import Workspace, default_workspace_root


def workspace_from(args: argparse.Namespace) -> Workspace:
    """The workspace named by ``--workspace``, ``$RPTUI_WORKSPACE`` or the default."""
    return Workspace(args.workspace or default_workspace_root())
