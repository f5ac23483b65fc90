"""The CLI app in a private tmux server: key-to-bytes latency and bytes per frame."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from latency_common import FRAME_WAIT_S, NOOP_WAIT_S, POLL_S, SIZE, Samples

PROJECT = "latency"  # the project the benchmark workspace holds and the app opens
QUIET_S = 0.08  # tmux: a key's output has ended after this long without bytes
REDRAW_QUIET_S = 0.3
RESIZE_WAIT_S = 3.0
TICK_WAIT_S = 2.5  # the app's own periodic write comes every 2 s
WINDOW_S = 1.5  # samples taken this long after a periodic write
FIRST_PAINT_QUIET_S = 0.3
SETTLE_QUIET_S = 1.2  # tmux: start-up (segmenting the first images) is over
SETTLE_CAP_S = 90.0
PICTURE_QUIET_S = 2.0  # true pixels: a whole view is encoded after its text frame
PICTURE_WINDOW_S = 15.0  # true pixels: bytes of a redraw are those written this long after it
PASSTHROUGH = re.compile(rb"\x1bPtmux;(?:[^\x1b]|\x1b\x1b)*\x1b\\")  # wrapped pictures
IDLE_S = 4.0
HOME = b"\x1b[1;1H"  # cursor to the top-left cell
COLOUR_MODES = {
    "truecolor": "env COLORTERM=truecolor TERM=screen-256color",
    "256": "env -u COLORTERM TERM=screen-256color",
}


class TmuxApp:
    """The CLI app in a detached session of a private tmux server, its output logged."""

    def __init__(
        self, workspace: Path, colour_env: str, folder: Path, graphics: str | None = None
    ) -> None:
        self.socket = f"rptui-bench-{os.getpid()}"
        self.session = f"latency{os.getpid()}"
        run = abs(hash((colour_env, graphics)))
        self.log = folder / f"pane-{self.session}-{run}.log"
        self.gate = folder / f"gate-{run}"
        self.graphics = graphics
        rptui = Path(sys.executable).with_name("rptui")
        option = f" --graphics {graphics}" if graphics else ""
        app = (
            f"{colour_env} {shlex.quote(str(rptui))} --workspace "
            f"{shlex.quote(str(workspace))} --in-process{option} open {PROJECT}"
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
        if self.graphics:  # pictures reach the terminal around tmux only with passthrough
            self.tmux("set-option", "-g", "allow-passthrough", "on")
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
        after, _ = self.wait_quiet(quiet, cap=5.0 + 10 * quiet)
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

    def picture_bytes(self, start: int, stop: int) -> int:
        """Bytes of the pictures (wrapped for the terminal around tmux) in a stretch of the log."""
        with self.log.open("rb") as log:
            log.seek(start)
            data = log.read(stop - start)
        return sum(len(match) for match in PASSTHROUGH.findall(data))

    def wait_tick(self) -> None:
        """Wait for the app's own periodic write and its end (or give up after 2.5 s)."""
        if self.wait_growth(self.size(), TICK_WAIT_S) is not None:
            self.wait_quiet(QUIET_S, cap=1.0)


def measure_tmux(
    workspace: Path, colour_env: str, presses: int, folder: Path, graphics: str | None = None
) -> dict[str, Any]:
    """Figures of the CLI app in tmux with one colour environment (and ``--graphics``)."""
    app = TmuxApp(workspace, colour_env, folder, graphics)
    pictures_drawn = graphics not in (None, "halfblocks")
    redraw_quiet = PICTURE_QUIET_S if pictures_drawn else REDRAW_QUIET_S
    started = app.start()
    try:
        first_byte = app.wait_growth(0, SETTLE_CAP_S)
        first_size, first_end = app.wait_quiet(FIRST_PAINT_QUIET_S, cap=SETTLE_CAP_S)
        app.wait_quiet(max(SETTLE_QUIET_S, redraw_quiet), cap=SETTLE_CAP_S)
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
        pictures: dict[str, int] = {}
        resize = ("resize-window", "-t", app.session, "-y", str(SIZE[1]), "-x")
        steps: list[tuple[str, tuple[str, ...]]] = [("zoom", ("+",)), ("fit", ("f",))]
        steps += [("next", ("n",)), ("shrink", ()), ("resize", ())]
        for name, keys in steps:
            app.wait_tick()
            before, pressed = app.size(), time.perf_counter()
            if keys:
                app.send(*keys, quiet=redraw_quiet)
            else:  # one column less, then back: the whole screen repaints
                app.tmux(*resize, str(SIZE[0] - 1 if name == "shrink" else SIZE[0]))
                app.wait_growth(before, RESIZE_WAIT_S)
                app.wait_quiet(redraw_quiet, cap=30.0)
            if pictures_drawn:  # a whole view may take seconds to encode: wait for it
                time.sleep(max(0.0, pressed + PICTURE_WINDOW_S - time.perf_counter()))
            after = app.size()
            redraws[name] = app.frames(before, after)
            pictures[name] = app.picture_bytes(before, after)
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
        "pictures": pictures,
    }
