"""What every command group's parser shares: the parser class and common options."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from rptui.errors import EXIT_USER_ERROR

PROGRAM = "rptui"

START_MODEL_HELP = "starting model: a model file or starter:roots (default: random weights)"


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def handler(module: str) -> str:
    """The dotted name of the :mod:`rptui.commands` module that runs a subcommand."""
    return f"rptui.commands.{module}"


def add_command(
    sub: argparse._SubParsersAction, name: str, module: str, **options: Any
) -> argparse.ArgumentParser:
    """A subcommand ``name`` run by ``rptui.commands.<module>``; ``options`` go to argparse."""
    parser: argparse.ArgumentParser = sub.add_parser(name, **options)
    parser.set_defaults(handler=handler(module))
    return parser


def add_model_option(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``--model``, repeatable: the models of an ensemble."""
    parser.add_argument(
        "--model",
        action="append",
        required=required,
        metavar="M",
        help="a model file (ours or RootPainter's), PROJECT (its pinned model, else its "
        "newest, best one), PROJECT:N or starter:roots; repeat for an ensemble",
    )
