"""Pieces the app benchmarks share: key-press samples, percentiles and frame recording.

The benchmarks run as scripts from this folder, so they import this module as ``latency_common``.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from rptui.tui.app import RptuiApp

SIZE = (160, 47)
NOOP_KEY = "f12"
FRAME_WAIT_S = 1.0  # a key that draws nothing in this long draws nothing
NOOP_WAIT_S = 0.2
POLL_S = 0.001


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


async def press(pilot: Any, frames: list[Frame], key: str, samples: Samples) -> None:
    """Press ``key`` in an idle app; add its key-to-frame latency and bytes to ``samples``."""
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
