"""Subcommands whose work is not in this version yet say so plainly."""

from __future__ import annotations

import argparse

from rptui.errors import UserError


def run(args: argparse.Namespace) -> int:
    raise UserError(f"'{args.command}' is not available in this version of rptui yet")
