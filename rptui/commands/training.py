"""``rptui train PROJECT``: train headless, with a live status line."""

from __future__ import annotations

import argparse
import asyncio

from rich.console import Console

from cluster.api import TrainerStatus, TrainingConfig
from rptui.commands.common import keep_ray_off_the_terminal, make_backend, workspace_from
from rptui.errors import UserError
from rptui.session.training import train_project


def describe(status: TrainerStatus) -> str:
    """One status line: state, epoch, best F1, progress since the best, annotations."""
    f1 = "-" if status.best_f1 is None else f"{status.best_f1:.3f}"
    return (
        f"{status.state.value} · epoch {status.epoch} ({status.epochs_since_best} since best) · "
        f"model #{status.model_version} F1 {f1} · {status.n_train} train / {status.n_val} val"
    )


def run(args: argparse.Namespace) -> int:
    workspace = workspace_from(args)
    project = workspace.open_project(args.project)
    if project.read_only:
        raise UserError(f"project {project.name} is read-only: {project.read_only_reason}")
    keep_ray_off_the_terminal(args)
    config = TrainingConfig(
        tile_size=args.tile_size, batch_size=args.batch_size, epoch_tiles=args.epoch_tiles
    )
    console = Console(stderr=True)
    backend = make_backend(args, project.name)

    async def main() -> TrainerStatus:
        try:
            with console.status("starting") as live:
                return await train_project(
                    project,
                    backend,
                    config,
                    seconds=args.seconds,
                    on_status=lambda status: live.update(describe(status)),
                )
        finally:
            await backend.close()

    try:
        final = asyncio.run(main())
    finally:
        project.close()
    print(describe(final))
    if final.last_error:
        raise UserError(f"training failed: {final.last_error}")
    return 0
