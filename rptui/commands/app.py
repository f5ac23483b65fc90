"""``rptui`` and ``rptui open [PROJECT]``: the terminal app."""

from __future__ import annotations

import argparse
from functools import partial


def run(args: argparse.Namespace) -> int:
    from rptui.commands.common import make_backend, workspace_from
    from rptui.tui.app import RptuiApp

    workspace = workspace_from(args).ensure()
    project = workspace.open_project(args.project) if args.project else None
    app = RptuiApp(workspace, project=project, backend_factory=partial(make_backend, args))
    app.run()
    return 0
