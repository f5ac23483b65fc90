"""``rptui`` and ``rptui open [PROJECT]``: the terminal app."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from rptui.commands.common import (
        app_backend_factory,
        keep_ray_off_the_terminal,
        rptui_command,
        terminal_graphics,
        workspace_from,
    )
    from rptui.tui.app import RptuiApp

    workspace = workspace_from(args).ensure()
    graphics = terminal_graphics(args)
    keep_ray_off_the_terminal(args)
    project = workspace.open_project(args.project) if args.project else None
    app = RptuiApp(
        workspace,
        project=project,
        backend_factory=app_backend_factory(args),
        command=rptui_command(args),
        advise_colours=not graphics.support.true_pixels,
        graphics=graphics,
    )
    app.run()
    return 0
