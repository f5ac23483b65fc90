"""``rptui`` and ``rptui open [PROJECT]``: the terminal app."""

from __future__ import annotations

import argparse

from rptui.errors import UserError


def run(args: argparse.Namespace) -> int:
    raise UserError(
        "the terminal app is not available in this version of rptui yet; "
        "`rptui demo` and `rptui train PROJECT` work headless"
    )
