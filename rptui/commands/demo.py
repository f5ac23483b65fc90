"""``rptui demo``: a generated dataset and project, trained on embedded defaults."""

from __future__ import annotations

import argparse
import asyncio

from rich.console import Console

from cluster.api import TrainerStatus, TrainingConfig
from rptui.commands.common import (
    app_backend_factory,
    keep_ray_off_the_terminal,
    make_backend,
    rptui_command,
    terminal_graphics,
    workspace_from,
)
from rptui.commands.training import describe
from rptui.demo import CLEAR_EXAMPLES, DemoSetup, held_out_f1, prepare_demo
from rptui.session.training import train_project
from rptui.store.workspace import Workspace


def run(args: argparse.Namespace) -> int:
    workspace = workspace_from(args)
    keep_ray_off_the_terminal(args)
    console = Console(stderr=True)
    with console.status("generating the demo dataset and project"):
        setup = prepare_demo(
            workspace,
            images=args.images,
            size=args.size,
            seed=args.seed,
            clear_examples=CLEAR_EXAMPLES,
        )
    project = setup.project
    print(
        f"workspace {workspace.root}: project {project.name}, {len(project)} generated images, "
        f"{len(setup.annotated)} annotated as clear examples"
    )
    if not args.headless:
        return open_app(args, workspace, setup)
    return train_headless(args, setup, console)


def open_app(args: argparse.Namespace, workspace: Workspace, setup: DemoSetup) -> int:
    """The app on the first image nobody annotated, with the trainer started."""
    from rptui.tui.app import RptuiApp

    graphics = terminal_graphics(args)
    project = setup.project
    if not project.config.reviewed and project.config.position < len(setup.annotated):
        project.set_position(min(len(setup.annotated), len(project) - 1))
    app = RptuiApp(
        workspace,
        project=project,
        backend_factory=app_backend_factory(args),
        command=rptui_command(args),
        advise_colours=not graphics.support.true_pixels,
        graphics=graphics,
        start_training=True,
    )
    app.run()
    return 0


def train_headless(args: argparse.Namespace, setup: DemoSetup, console: Console) -> int:
    """Train on the clear examples for ``--seconds``, then score unannotated images."""
    project = setup.project
    backend = make_backend(args, project.name)

    async def train() -> TrainerStatus:
        try:
            with console.status("training") as live:
                return await train_project(
                    project,
                    backend,
                    TrainingConfig(),
                    seconds=args.seconds,
                    on_status=lambda status: live.update(describe(status)),
                )
        finally:
            await backend.close()

    try:
        final = asyncio.run(train())
        print(describe(final))
        with console.status("segmenting images nobody annotated"):
            f1, count = held_out_f1(setup)
        print(f"F1 of model #{final.model_version} on {count} unannotated images: {f1:.3f}")
        print(f"models and epoch log: {project.root}")
    finally:
        project.close()
    return 0
