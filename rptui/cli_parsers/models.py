"""The parser of ``rptui models``: a project's saved models, pinned, compared, pruned."""

from __future__ import annotations

import argparse

from rptui.cli_parsers.common import add_command

DEFAULT_KEEP = 5  # --prune keeps the newest this many models


def add_models_command(sub: argparse._SubParsersAction) -> None:
    """``models PROJECT [--pin N | --unpin | --diff A B | --prune [--keep K] [--yes]]``."""
    models = add_command(
        sub,
        "models",
        "models",
        help="a project's saved models: list, pin one, compare two, prune old ones",
        description="List every saved model of PROJECT: its number, when it was saved, its "
        "validation F1, the annotations it had seen, the model it continued from and its "
        "training settings, marking the pinned and the best one. A pinned model is what "
        "--model PROJECT names and what the app's trainer starts from when the project opens.",
    )
    models.add_argument("project", help="project name")
    action = models.add_mutually_exclusive_group()
    action.add_argument("--pin", type=int, metavar="N", help="pin model N")
    action.add_argument("--unpin", action="store_true", help="unpin (the newest is used again)")
    action.add_argument(
        "--diff",
        type=int,
        nargs=2,
        metavar=("A", "B"),
        help="what changed from model A to model B, weights included",
    )
    action.add_argument(
        "--prune",
        action="store_true",
        help="remove old models, keeping the pinned, the best and the newest K "
        "(lists them; removes only with --yes)",
    )
    models.add_argument(
        "--keep",
        type=int,
        default=None,
        metavar="K",
        help=f"with --prune: how many of the newest models to keep (default {DEFAULT_KEEP})",
    )
    models.add_argument("--yes", action="store_true", help="with --prune: remove the files")
