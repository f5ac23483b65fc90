"""Key-to-frame latency and terminal bytes of the annotate screen, in the app and in tmux.

Run: ``nice -n 5 .venv/bin/python benchmarks/app_latency.py [--presses 50] [--tmux-presses 20]``.

A temporary workspace gets a generated dataset (three 1000x1000 images) and a project.

*In the app* (Textual's Pilot, headless, 160x47, offline): the app's ``_display`` (called
by the screen's compositor once per frame with the update it will write) is wrapped to
stamp the time and to encode the update to terminal bytes, as the real driver would, in
truecolor and in 256 colours. One sample = ``perf_counter`` before ``pilot.press(key)`` to
the end of the first frame after it; frames arrive on Textual's update timer (60 fps), so
the figure includes the wait for that tick, as on a terminal. Each sample starts from an
idle app (``pilot.pause()``). The no-op key (F12, unbound) draws no frame: its figure is
the time until ``pilot.press`` returns, i.e. the key's round trip through the app.

*In tmux* (``rptui --in-process open``, a private tmux server, 160x47): ``pipe-pane``
appends everything the app writes to a log. One sample = before ``tmux send-keys`` to the
moment the log grows (polled every millisecond); its bytes are what arrives until the log
has been quiet for 80 ms. The app writes on its own every 2 s (the trainer poll redraws
the status line and panel), so samples are taken in the 1.5 s after such a write. Full
redraws: ``f`` (the canvas repaints, fitted), ``+`` (zoom in: a new canvas view) and a
resize to 159 columns and back (the whole screen repaints at 160x47). The app is measured
once with ``COLORTERM=truecolor`` and once without it (``TERM=screen-256color``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from latency_common import NOOP_KEY, SIZE, Samples, press, record_frames
from latency_tmux import COLOUR_MODES, PROJECT, measure_tmux

from cluster.simulate.synthetic import write_dataset
from rptui.store.workspace import Workspace
from rptui.tui.app import RptuiApp

DATASET = "bench"
IMAGE_SIDE = 1000


def make_workspace(root: Path) -> Workspace:
    """A workspace with a generated dataset and a closed project on it."""
    workspace = Workspace(root).ensure()
    write_dataset(
        workspace.dataset_dir(DATASET), count=3, seed=0, height=IMAGE_SIDE, width=IMAGE_SIDE
    )
    workspace.create_project(PROJECT, DATASET, seed=0).close()
    return workspace


# ----- in the app ----------------------------------------------------------------------------


async def measure_in_app(workspace: Workspace, presses: int) -> dict[str, Any]:
    """Pilot figures: Samples per key and bytes of whole-screen frames."""
    project = workspace.open_project(PROJECT)
    app = RptuiApp(workspace, project=project, backend_factory=None)
    frames = record_frames(app)
    moves, dabs, noops = Samples(), Samples(), Samples()
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        first = frames[0] if frames else None
        await pilot.pause(0.3)
        first_paint = [f.size for f in frames]
        for i in range(presses):
            await press(pilot, frames, "right" if i < presses // 2 else "down", moves)
            await press(pilot, frames, "space", dabs)
            if i % 5 == 0:
                await press(pilot, frames, NOOP_KEY, noops)
        redraws: dict[str, list[int]] = {}
        for name, action in (
            ("fit", lambda: pilot.press("f")),
            ("zoom", lambda: pilot.press("plus")),
        ):
            await pilot.pause()
            count = len(frames)
            await action()
            await pilot.pause()
            redraws[name] = [f.size for f in frames[count:]]
        await pilot.resize_terminal(SIZE[0] - 1, SIZE[1])
        await pilot.pause()
        count = len(frames)
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        redraws["resize"] = [f.size for f in frames[count:]]
    return {
        "move": moves,
        "dab": dabs,
        "noop": noops,
        "first": first_paint,
        "first_s": (first.done - started) if first else float("nan"),
        "redraws": redraws,
    }


# ----- report --------------------------------------------------------------------------------


def _kb(value: float) -> str:
    return f"{value / 1000:.1f} KB"


def _redraw(sizes: Sequence[int]) -> str:
    """Bytes of a redraw: the largest frame, and the total when it took several."""
    if not sizes:
        return "nothing"
    if len(sizes) == 1:
        return _kb(sizes[0])
    return f"{_kb(max(sizes))} (all {len(sizes)} frames {_kb(sum(sizes))})"


def table(in_app: dict[str, Any], tmux: dict[str, dict[str, Any]]) -> str:
    """The markdown table of all figures."""
    tc, c256 = tmux["truecolor"], tmux["256"]
    rd = in_app["redraws"]

    def moved(samples: Samples) -> str:
        return f"{_kb(samples.median_bytes())}"

    noop = in_app["noop"]
    rows = [
        ("cursor move (Right) key→frame p50 / p90, ms", in_app["move"].ms(),
         tc["move"].ms(), c256["move"].ms(), "p50 ≤ 50"),
        ("brush dab (space) key→frame p50 / p90, ms", in_app["dab"].ms(),
         tc["dab"].ms(), c256["dab"].ms(), "p50 ≤ 80"),
        (f"no-op key ({NOOP_KEY}) p50 / p90, ms", f"{noop.ms()} (handled, no frame)",
         f"{tc['noop'].silent}/{len(tc['noop'].sizes)} silent",
         f"{c256['noop'].silent}/{len(c256['noop'].sizes)} silent", "–"),
        ("bytes per cursor move (median)", moved(in_app["move"]),
         moved(tc["move"]), moved(c256["move"]), "–"),
        ("bytes per brush dab (median)", moved(in_app["dab"]),
         moved(tc["dab"]), moved(c256["dab"]), "≤ 8 KB"),
        ("bytes per canvas repaint (f, fitted)", _redraw(rd["fit"]),
         _redraw(tc["redraws"]["fit"]), _redraw(c256["redraws"]["fit"]), "–"),
        ("bytes per zoom-in repaint (+)", _redraw(rd["zoom"]),
         _redraw(tc["redraws"]["zoom"]), _redraw(c256["redraws"]["zoom"]), "–"),
        ("bytes per full-screen redraw 160×47 (resize back)", _redraw(rd["resize"]),
         _redraw(tc["redraws"]["resize"]), _redraw(c256["redraws"]["resize"]), "≤ 300 KB"),
        ("bytes of the first paint", _redraw(in_app["first"]),
         _redraw(tc["first"]), _redraw(c256["first"]), "–"),
        ("start → first paint done, s", f"{in_app['first_s']:.2f}",
         f"{tc['first_s']:.1f}", f"{c256['first_s']:.1f}", "–"),
        ("start → quiet (first segmentations in), s", "offline",
         f"{tc['settled_s']:.1f}", f"{c256['settled_s']:.1f}", "–"),
        ("bytes/s written when idle", "–",
         f"{tc['idle_rate'] / 1000:.1f} KB/s", f"{c256['idle_rate'] / 1000:.1f} KB/s", "–"),
    ]  # fmt: skip
    header = (
        "| measure | in app (Pilot; bytes as truecolor) | tmux truecolor | tmux 256 colours "
        "| target |\n|---|---|---|---|---|\n"
    )
    return header + "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=50, help="in-app presses per key")
    parser.add_argument("--tmux-presses", type=int, default=20, help="tmux presses per key")
    parser.add_argument("--no-tmux", action="store_true", help="only the in-app figures")
    args = parser.parse_args(argv)
    out = sys.stdout
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rptui-latency-") as tmp:
        folder = Path(tmp)
        workspace = make_workspace(folder / "workspace")
        in_app = asyncio.run(measure_in_app(workspace, args.presses))
        tmux: dict[str, dict[str, Any]] = {}
        if not args.no_tmux:
            for mode, env in COLOUR_MODES.items():
                tmux[mode] = measure_tmux(workspace.root, env, args.tmux_presses, folder)
    load = os.getloadavg()
    out.write(
        f"`{' '.join(['python', *sys.argv])}`: {IMAGE_SIDE}x{IMAGE_SIDE} images, "
        f"terminal {SIZE[0]}x{SIZE[1]}, {args.presses} in-app and {args.tmux_presses} tmux "
        f"presses per key; {time.perf_counter() - started:.0f} s; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
    )
    if tmux:
        out.write(f"tmux ran: `{tmux['truecolor']['command']}` (and the 256-colour env)\n\n")
        out.write(table(in_app, tmux) + "\n")
    else:
        out.write(f"in app: move {in_app['move'].ms()} ms, dab {in_app['dab'].ms()} ms\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
