"""``rptui train PROJECT``: train headless, with a live status line."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from rich.console import Console

from cluster.api import TrainerStatus, TrainingConfig, describe_model
from rptui.commands.common import (
    check_writable,
    keep_ray_off_the_terminal,
    make_backend,
    workspace_from,
)
from rptui.errors import UserError
from rptui.session.training import train_project
from rptui.store.project import Project


def describe(status: TrainerStatus) -> str:
    """One status line: state, epoch, best F1, progress since the best, annotations."""
    model = describe_model(status.model_version, status.best_f1, status.saved_f1)
    return (
        f"{status.state.value} · epoch {status.epoch} ({status.epochs_since_best} since best) · "
        f"{model} · {status.n_train} train / {status.n_val} val"
    )


def check_trainable(project: Project) -> None:
    """Refuse a project without a training and a validation annotation, saying how to add them."""
    splits = list(project.annotated().values())
    n_train, n_val = splits.count("train"), splits.count("val")
    if n_train and n_val:
        return
    raise UserError(
        f"project {project.name} has nothing to train on yet ({n_train} train / {n_val} val "
        "annotations; training needs one of each): annotate images in the app "
        f"(rptui open {project.name}; paint, Enter accepts) or bring masks in "
        f"(rptui project import-masks {project.name} FOLDER)"
    )


class EpochLines:
    """Training progress where stderr is no terminal (a log, a pipe): one line per epoch,
    change of state or of the best model's F1 (rescored when the validation set changes),
    where a terminal gets a live status line."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last: tuple[int, str, str] | None = None

    def __call__(self, status: TrainerStatus) -> None:
        model = describe_model(status.model_version, status.best_f1, status.saved_f1)
        key = (status.epoch, status.state.value, model)
        if key != self.last:
            self.last = key
            self.console.print(describe(status), highlight=False, soft_wrap=True)  # one line


def run(args: argparse.Namespace) -> int:
    workspace = workspace_from(args)
    project = workspace.open_project(args.project)
    try:
        check_writable(project)
        check_trainable(project)
    except UserError:
        project.close()
        raise
    keep_ray_off_the_terminal(args)
    config = TrainingConfig(
        tile_size=args.tile_size, batch_size=args.batch_size, epoch_tiles=args.epoch_tiles
    )
    console = Console(stderr=True)
    backend = make_backend(args, project.name)

    async def train(on_status: Callable[[TrainerStatus], None]) -> TrainerStatus:
        return await train_project(
            project, backend, config, seconds=args.seconds, on_status=on_status
        )

    async def main() -> TrainerStatus:
        try:
            if not console.is_terminal:
                return await train(EpochLines(console))
            with console.status("starting") as live:
                return await train(lambda status: live.update(describe(status)))
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
