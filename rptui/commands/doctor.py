"""``rptui doctor``: what this terminal shows, and how to make it show more."""

from __future__ import annotations

import argparse
import shutil


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rptui.tui.colours import colour_advice
    from rptui.tui.graphics.detect import detect
    from rptui.tui.graphics.tmux import PASSTHROUGH_ADVICE, in_tmux, passthrough_allowed

    support = detect(args.graphics)
    print(support.describe())
    size = shutil.get_terminal_size()
    cells = f"terminal: {size.columns}x{size.lines} cells"
    if support.true_pixels:
        cell = support.cell
        cells += f", {size.columns * cell.width}x{size.lines * cell.height} px"
    print(cells)
    colours = Console().color_system
    advice = colour_advice(colours)
    print(f"colours: {colours or 'none'}" + (f" ({advice})" if advice else ""))
    if in_tmux():
        allowed = passthrough_allowed()
        print("tmux: allow-passthrough on" if allowed else f"tmux: {PASSTHROUGH_ADVICE}")
    return 0
