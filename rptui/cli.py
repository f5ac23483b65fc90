"""The ``rptui`` command line: global options, subcommands, one-line user errors.

Handlers live in :mod:`rptui.commands` and are imported only when their subcommand
runs, so ``rptui --help`` answers at once without loading torch or Ray. The subcommands'
arguments are declared in :mod:`rptui.cli_parsers`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rptui.cli_parsers.bench import add_bench_command
from rptui.cli_parsers.common import PROGRAM, OneLineParser, add_annotator_option, handler
from rptui.cli_parsers.measuring import add_measuring_commands
from rptui.cli_parsers.models import add_models_command
from rptui.cli_parsers.workspace import add_workspace_commands
from rptui.errors import EXIT_USER_ERROR, os_error_message, user_error_types
from rptui.tui.graphics.support import GRAPHICS_PATHS

log = logging.getLogger(__name__)


def build_parser() -> OneLineParser:
    """The whole command-line contract."""
    parser = OneLineParser(
        prog=PROGRAM,
        description="Corrective-annotation segmentation from a terminal, trained on Ray.",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="workspace folder (default: $RPTUI_WORKSPACE or ~/rptui)",
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("RAY_ADDRESS"),
        help="Ray cluster to join (default: $RAY_ADDRESS, or an embedded local Ray)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="train and segment inside this process, without Ray (for debugging)",
    )
    parser.add_argument(
        "--graphics",
        choices=GRAPHICS_PATHS,
        default=None,
        help="how the app draws images: kitty or sixel (true pixels) or halfblocks "
        "(default: what the terminal offers; `rptui doctor` says which)",
    )
    add_annotator_option(parser)
    parser.add_argument("--verbose", action="store_true", help="log more to stderr")
    parser.set_defaults(handler=handler("app"), project=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    add_workspace_commands(sub)
    add_measuring_commands(sub)
    add_models_command(sub)
    add_bench_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    module = importlib.import_module(args.handler)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return 130
    except OSError as error:
        message, status = os_error_message(error)
        print(f"{PROGRAM}: error: {message}", file=sys.stderr)
        return status
    except user_error_types() as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
