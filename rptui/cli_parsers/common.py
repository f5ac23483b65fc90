"""What every command group's parser shares: the parser class and common options."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from rptui.errors import EXIT_USER_ERROR
from rptui.store.annotator import clean_annotator
from rptui.store.paths import WorkspaceError

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


def annotator_name(text: str) -> str:
    """``--annotator``'s value: a printable name (argparse reports a bad one in one line)."""
    try:
        return clean_annotator(text)
    except WorkspaceError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_annotator_option(parser: argparse.ArgumentParser) -> None:
    """``--annotator NAME``: who annotates, recorded with each annotation beside the OS user."""
    parser.add_argument(
        "--annotator",
        type=annotator_name,
        default=None,
        metavar="NAME",
        help="your name, recorded with each annotation you save and shown to others "
        "annotating the same project (default: your user name alone)",
    )


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
