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
import io
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from cluster.synthetic import write_dataset
from rptui.tui.app import RptuiApp
from rptui.workspace import Workspace

SIZE = (160, 47)
DATASET = "bench"
PROJECT = "latency"
IMAGE_SIDE = 1000
NOOP_KEY = "f12"
FRAME_WAIT_S = 1.0  # a key that draws nothing in this long draws nothing
NOOP_WAIT_S = 0.2
QUIET_S = 0.08  # tmux: a key's output has ended after this long without bytes
REDRAW_QUIET_S = 0.3
RESIZE_WAIT_S = 3.0
POLL_S = 0.001
TICK_WAIT_S = 2.5  # the app's own periodic write comes every 2 s
WINDOW_S = 1.5  # samples taken this long after a periodic write
FIRST_PAINT_QUIET_S = 0.3
SETTLE_QUIET_S = 1.2  # tmux: start-up (segmenting the first images) is over
SETTLE_CAP_S = 90.0
IDLE_S = 4.0
HOME = b"\x1b[1;1H"  # cursor to the top-left cell
COLOUR_MODES = {
    "truecolor": "env COLORTERM=truecolor TERM=screen-256color",
    "256": "env -u COLORTERM TERM=screen-256color",
}


def make_workspace(root: Path) -> Workspace:
    """A workspace with a generated dataset and a closed project on it."""
    workspace = Workspace(root).ensure()
    write_dataset(
        workspace.dataset_dir(DATASET), count=3, seed=0, height=IMAGE_SIDE, width=IMAGE_SIDE
    )
    workspace.create_project(PROJECT, DATASET, seed=0).close()
    return workspace


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Samples:
    """Latencies (s) and bytes of one kind of key press."""

    latencies: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    silent: int = 0  # presses that drew nothing

    def ms(self) -> str:
        """p50 / p90 in milliseconds."""
        if not self.latencies:
            return "no output"
        p50, p90 = percentile(self.latencies, 50), percentile(self.latencies, 90)
        return f"{p50 * 1000:.0f} / {p90 * 1000:.0f}"

    def median_bytes(self) -> float:
        """Median bytes per press."""
        return statistics.median(self.sizes) if self.sizes else float("nan")


# ----- in the app ----------------------------------------------------------------------------


@dataclass
class Frame:
    """One frame the app would write: when it was encoded and its bytes."""

    done: float
    size: int


def _console(colour_system: str) -> Console:
    width, height = SIZE
    return Console(
        file=io.StringIO(),
        color_system=colour_system,  # type: ignore[arg-type]
        force_terminal=True,
        width=width,
        height=height,
        legacy_windows=False,
    )


def record_frames(app: RptuiApp) -> list[Frame]:
    """Wrap the app's ``_display`` so every frame is stamped and encoded; returns the list."""
    frames: list[Frame] = []
    original: Callable[[Any, Any], None] = app._display
    console = _console("truecolor")

    def display(screen: Any, renderable: Any) -> None:
        original(screen, renderable)
        if renderable is None or app._batch_count:
            return
        size = len(renderable.render_segments(console).encode())
        frames.append(Frame(time.perf_counter(), size))

    app._display = display  # type: ignore[method-assign]
    return frames


async def _press(pilot: Any, frames: list[Frame], key: str, samples: Samples) -> None:
    await pilot.pause()
    start_count = len(frames)
    started = time.perf_counter()
    await pilot.press(key)
    handled = time.perf_counter()
    wait = NOOP_WAIT_S if key == NOOP_KEY else FRAME_WAIT_S
    while len(frames) == start_count and time.perf_counter() - started < wait:
        await asyncio.sleep(POLL_S)
    if len(frames) == start_count:
        samples.silent += 1
        samples.latencies.append(handled - started)
        samples.sizes.append(0)
        return
    latency = frames[start_count].done - started
    await pilot.pause()
    samples.latencies.append(latency)
    samples.sizes.append(sum(f.size for f in frames[start_count:]))


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
            await _press(pilot, frames, "right" if i < presses // 2 else "down", moves)
            await _press(pilot, frames, "space", dabs)
            if i % 5 == 0:
                await _press(pilot, frames, NOOP_KEY, noops)
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


# ----- in tmux -------------------------------------------------------------------------------


class TmuxApp:
    """The CLI app in a detached session of a private tmux server, its output logged."""

    def __init__(self, workspace: Path, colour_env: str, folder: Path) -> None:
        self.socket = f"rptui-bench-{os.getpid()}"
        self.session = f"latency{os.getpid()}"
        self.log = folder / f"pane-{self.session}-{abs(hash(colour_env))}.log"
        self.gate = folder / f"gate-{abs(hash(colour_env))}"
        rptui = Path(sys.executable).with_name("rptui")
        app = (
            f"{colour_env} {shlex.quote(str(rptui))} --workspace "
            f"{shlex.quote(str(workspace))} --in-process open {PROJECT}"
        )
        self.command = app
        gate = shlex.quote(str(self.gate))
        self.shell = f"while [ ! -e {gate} ]; do sleep 0.02; done; exec {app}"

    def tmux(self, *args: str) -> str:
        """Run a tmux command on the private server."""
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def size(self) -> int:
        """Bytes the app has written so far."""
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0

    def start(self) -> float:
        """Start the app with its output piped to the log; returns the start time."""
        width, height = SIZE
        self.tmux(
            "new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
            "sh", "-c", self.shell,
        )  # fmt: skip
        self.tmux("pipe-pane", "-t", self.session, "-o", f"cat >> {shlex.quote(str(self.log))}")
        started = time.perf_counter()
        self.gate.touch()
        return started

    def stop(self) -> None:
        """Quit the app and end the session (and with it the private server)."""
        try:
            self.tmux("send-keys", "-t", self.session, "C-q")
            deadline = time.perf_counter() + 5.0
            while time.perf_counter() < deadline and self._alive():
                time.sleep(0.1)
            if self._alive():
                self.tmux("kill-session", "-t", self.session)
        except subprocess.CalledProcessError:
            pass  # the server ended with the session
        socket = Path(f"/tmp/tmux-{os.getuid()}") / self.socket
        if not self._alive() and socket.is_socket():
            socket.unlink()  # the private server has gone; its socket file stays behind

    def _alive(self) -> bool:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "has-session", "-t", self.session], capture_output=True
        )
        return done.returncode == 0

    def wait_quiet(self, quiet: float, cap: float) -> tuple[int, float]:
        """Wait until no bytes came for ``quiet`` s (at most ``cap``); (size, last write)."""
        started = last_change = time.perf_counter()
        size = self.size()
        while True:
            time.sleep(POLL_S * 5)
            now, current = time.perf_counter(), self.size()
            if current != size:
                size, last_change = current, now
            elif now - last_change >= quiet or now - started >= cap:
                return size, last_change

    def wait_growth(self, before: int, timeout: float) -> float | None:
        """The time the log grew past ``before``, or None."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.size() != before:
                return time.perf_counter()
            time.sleep(POLL_S)
        return None

    def send(self, *keys: str, quiet: float = QUIET_S) -> tuple[float | None, int]:
        """Send keys; (key-to-bytes latency or None, bytes written)."""
        before = self.size()
        started = time.perf_counter()
        self.tmux("send-keys", "-t", self.session, *keys)
        grew = self.wait_growth(before, NOOP_WAIT_S if keys == ("F12",) else FRAME_WAIT_S)
        if grew is None:
            return None, self.size() - before
        after, _ = self.wait_quiet(quiet, cap=5.0)
        return grew - started, after - before

    def frames(self, start: int, stop: int) -> list[int]:
        """Bytes of each frame in a stretch of the log.

        Every frame ends by putting the terminal cursor back, on the top-left cell in this
        app; a whole-screen frame also starts there. tmux does not take synchronized
        updates, so these moves are what separates frames.
        """
        with self.log.open("rb") as log:
            log.seek(start)
            data = log.read(stop - start)
        sizes: list[int] = []
        carry = 0
        for part in data.split(HOME):
            if not part:  # a whole-screen frame starts at home
                carry += len(HOME)
                continue
            sizes.append(carry + len(part) + len(HOME))
            carry = 0
        if sizes:
            sizes[-1] -= len(HOME) if not data.endswith(HOME) else 0
        return sizes

    def wait_tick(self) -> None:
        """Wait for the app's own periodic write and its end (or give up after 2.5 s)."""
        if self.wait_growth(self.size(), TICK_WAIT_S) is not None:
            self.wait_quiet(QUIET_S, cap=1.0)


def measure_tmux(workspace: Path, colour_env: str, presses: int, folder: Path) -> dict[str, Any]:
    """Figures of the CLI app in tmux with one colour environment."""
    app = TmuxApp(workspace, colour_env, folder)
    started = app.start()
    try:
        first_byte = app.wait_growth(0, SETTLE_CAP_S)
        first_size, first_end = app.wait_quiet(FIRST_PAINT_QUIET_S, cap=SETTLE_CAP_S)
        app.wait_quiet(SETTLE_QUIET_S, cap=SETTLE_CAP_S)
        settled = time.perf_counter() - started
        idle_before = app.size()
        time.sleep(IDLE_S)
        idle_rate = (app.size() - idle_before) / IDLE_S
        moves, dabs, noops = Samples(), Samples(), Samples()
        plan = [("Right", moves), ("Space", dabs)] * presses + [("F12", noops)] * (presses // 4)
        while plan:
            app.wait_tick()
            window = time.perf_counter()
            while plan and time.perf_counter() - window < WINDOW_S:
                key, samples = plan.pop(0)
                latency, size = app.send(key)
                if latency is None:
                    samples.silent += 1
                else:
                    samples.latencies.append(latency)
                samples.sizes.append(size)
        redraws: dict[str, list[int]] = {}
        for name, keys in (("fit", ("f",)), ("zoom", ("+",))):
            app.wait_tick()
            before = app.size()
            app.send(*keys, quiet=REDRAW_QUIET_S)
            redraws[name] = app.frames(before, app.size())
        app.wait_tick()
        before = app.size()
        app.tmux("resize-window", "-t", app.session, "-x", str(SIZE[0] - 1), "-y", str(SIZE[1]))
        app.wait_growth(before, RESIZE_WAIT_S)
        app.wait_quiet(REDRAW_QUIET_S, cap=5.0)
        before = app.size()
        app.tmux("resize-window", "-t", app.session, "-x", str(SIZE[0]), "-y", str(SIZE[1]))
        app.wait_growth(before, RESIZE_WAIT_S)
        after, _ = app.wait_quiet(REDRAW_QUIET_S, cap=5.0)
        redraws["resize"] = app.frames(before, after)
    finally:
        app.stop()
    return {
        "command": app.command,
        "move": moves,
        "dab": dabs,
        "noop": noops,
        "first": app.frames(0, first_size),
        "first_s": (first_end - started) if first_byte is not None else float("nan"),
        "settled_s": settled,
        "idle_rate": idle_rate,
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
