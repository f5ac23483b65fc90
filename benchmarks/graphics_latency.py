"""Bytes and key-to-bytes latency of the annotate screen through tmux, per graphics path.

Run: ``nice -n 10 .venv/bin/python benchmarks/graphics_latency.py [--presses 20]
[--paths kitty,sixel,halfblocks] [--images DIR [--masks DIR]]``.

The app runs as ``rptui --in-process --graphics PATH open`` in a private tmux server of
160x47 cells with ``allow-passthrough on`` (pictures are wrapped for the terminal around
tmux), truecolor, and ``pipe-pane`` logs every byte it writes (see ``latency_tmux``). tmux
reports no cell size for a detached session, so the true-pixel paths draw at 10x20 pixels
a cell: the canvas (134x44 cells beside the training panel) is 1340x880 pixels. Each path
runs in the same call, one after the other, on the same workspace: three generated
1000x1000 images, or the images of ``--images`` (copied into a temporary workspace).

Figures: key-to-bytes p50 / p90 of a cursor move (Right) and a brush dab (space) (the
first byte the app writes, often the status line), and with true pixels key-to-picture
(the first byte of the picture that shows the change, in a second run of the app); the
median bytes of each; the bytes of a new image (``n``, the next image, its mask
segmented ahead), a zoom-in (``+``), a fit (``f``) and a whole-screen repaint (a resize
to 159 columns and back), all bytes and those of the pictures (the tmux passthrough
sequences): with half blocks until the output is quiet for 0.3 s, with true pixels all
that is written in the 15 s after the key (the app's own status writes every 2 s
included in "all"). The app segments with an untrained model, whose masks cover much of
an image: a new image's bytes include its mask arriving. The app draws a new image at once
and its mask when the mask comes, so with half blocks a new image is one whole-canvas
frame or two, as the mask comes within those 0.3 s or after: the column lists the frames.

With ``--masks`` (the images' masks, same stems), the canvas alone (160x45 cells, 1600x900
pixels, Textual's Pilot) also shows five images whole with their masks, one after the
other; the median bytes of each picture and the time to its first byte are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from app_latency import DATASET, make_workspace
from latency_common import FRAME_WAIT_S, POLL_S, Samples
from latency_tmux import (
    COLOUR_MODES,
    PICTURE_QUIET_S,
    PROJECT,
    SETTLE_CAP_S,
    TmuxApp,
    measure_tmux,
)
from PIL import Image
from textual.app import App, ComposeResult

from cluster.io.images import read_image
from rptui.store.workspace import Workspace
from rptui.tui.canvas.widget import AnnotationCanvas
from rptui.tui.graphics.hub import GraphicsHub
from rptui.tui.graphics.support import CellSize, GraphicsSupport

PATHS = ("kitty", "sixel", "halfblocks")
CELL = CellSize(10, 20)
CANVAS_CELLS = (160, 45)  # a canvas of 1600x900 pixels
NEW_IMAGES = 5
WHOLE_FRAME_BYTES = 20_000  # a text frame this large redraws the canvas (half blocks)


def real_workspace(root: Path, images: Path, count: int) -> Workspace:
    """A workspace whose dataset is the first ``count`` images of a folder."""
    workspace = Workspace(root).ensure()
    dataset = workspace.dataset_dir(DATASET)
    dataset.mkdir(parents=True)
    for image in sorted(p for p in images.iterdir() if p.is_file())[:count]:
        shutil.copy2(image, dataset / image.name)
    workspace.create_project(PROJECT, DATASET, seed=0).close()
    return workspace


def _redraw(run: dict[str, Any], name: str) -> str:
    """All bytes of a redraw, and those of its pictures (none with half blocks); with half
    blocks the size of each whole-canvas text frame too (a new image draws the photo, then
    again with its mask when the mask comes before the output has been quiet for 0.3 s)."""
    frames = run["redraws"][name]
    total = sum(frames) / 1000
    pictures = run["pictures"][name] / 1000
    if pictures:
        return f"{total:.1f} KB / {pictures:.1f} KB"
    whole = [f"{size / 1000:.0f}" for size in frames if size >= WHOLE_FRAME_BYTES]
    return (
        f"{total:.1f} KB ({len(whole)} frame{'s' * (len(whole) > 1)}: {' + '.join(whole)} KB)"
        if whole
        else f"{total:.1f} KB"
    )


def _picture_ms(run: dict[str, Any], key: str) -> str:
    pictures = run.get("picture")
    return pictures[key].ms() if pictures else "–"


PICTURE_START = b"\x1bPtmux;"  # pictures pass through tmux; text does not


def picture_latency(
    workspace: Path, env: str, presses: int, folder: Path, path: str
) -> dict[str, Samples]:
    """Key-to-picture latency of cursor moves and dabs: the app in tmux again, each key
    timed from ``send-keys`` to the first byte of a picture it wrote."""
    app = TmuxApp(workspace, env, folder / "pictures", path)
    app.log.parent.mkdir(parents=True, exist_ok=True)
    app.start()
    samples = {"Right": Samples(), "Space": Samples()}
    try:
        app.wait_growth(0, SETTLE_CAP_S)
        app.wait_quiet(PICTURE_QUIET_S, cap=SETTLE_CAP_S)
        for _ in range(presses):
            for key, sample in samples.items():
                app.wait_quiet(0.1, cap=2.0)
                before, started = app.size(), time.perf_counter()
                app.tmux("send-keys", "-t", app.session, key)
                shown = _wait_picture(app, before, started + FRAME_WAIT_S)
                if shown is None:
                    sample.silent += 1
                else:
                    sample.latencies.append(shown - started)
    finally:
        app.stop()
    return samples


def _wait_picture(app: TmuxApp, start: int, deadline: float) -> float | None:
    """When the log first held a picture past ``start`` (None: none before ``deadline``)."""
    while time.perf_counter() < deadline:
        if app.size() > start:
            with app.log.open("rb") as log:
                log.seek(start)
                if PICTURE_START in log.read():
                    return time.perf_counter()
        time.sleep(POLL_S)
    return None


def _median_kb(samples: Samples) -> str:
    return f"{samples.median_bytes() / 1000:.2f} KB"


def table(results: dict[str, dict[str, Any]]) -> str:
    """One column per graphics path."""
    runs = list(results.values())

    def each(figure: Any) -> tuple[str, ...]:
        return tuple(figure(run) for run in runs)

    rows = [
        ("cursor move (Right) key→bytes p50 / p90, ms", *each(lambda r: r["move"].ms())),
        ("brush dab (space) key→bytes p50 / p90, ms", *each(lambda r: r["dab"].ms())),
        ("cursor move key→picture p50 / p90, ms", *each(lambda r: _picture_ms(r, "Right"))),
        ("brush dab key→picture p50 / p90, ms", *each(lambda r: _picture_ms(r, "Space"))),
        ("bytes per cursor move (median)", *each(lambda r: _median_kb(r["move"]))),
        ("bytes per brush dab (median)", *each(lambda r: _median_kb(r["dab"]))),
        ("bytes of a new image (n): all / pictures", *each(lambda r: _redraw(r, "next"))),
        ("bytes of a zoom-in (+): all / pictures", *each(lambda r: _redraw(r, "zoom"))),
        ("bytes of a fit (f): all / pictures", *each(lambda r: _redraw(r, "fit"))),
        ("bytes of a whole-screen repaint: all / pictures", *each(lambda r: _redraw(r, "resize"))),
    ]
    header = "| measure | " + " | ".join(results) + " |\n|---|" + "---|" * len(results) + "\n"
    return header + "\n".join("| " + " | ".join(row) + " |" for row in rows)


class CanvasApp(App[None]):
    """The canvas alone, drawing through a graphics hub that records what it writes."""

    def __init__(self, hub: GraphicsHub) -> None:
        super().__init__()
        self.graphics = hub

    def compose(self) -> ComposeResult:
        yield AnnotationCanvas()


async def new_image_bytes(path: str, pairs: list[tuple[Path, Path]]) -> tuple[float, float]:
    """Median bytes and ms of showing each image with its mask, whole, on a fresh canvas."""
    written: list[str] = []
    support = GraphicsSupport(path, CELL, cell_measured=True)  # type: ignore[arg-type]
    app = CanvasApp(GraphicsHub(support, write=written.append))
    sizes, times = [], []
    async with app.run_test(size=CANVAS_CELLS) as pilot:
        canvas = app.query_one(AnnotationCanvas)
        for image_path, mask_path in pairs:
            image = read_image(image_path)
            mask = (np.asarray(Image.open(mask_path).convert("L")) > 0).astype(np.uint8)
            await pilot.pause()
            written.clear()
            started = time.perf_counter()
            canvas.set_image(image, segmentation=mask)
            while not written:
                await pilot.pause(0.01)
            times.append(time.perf_counter() - started)
            await pilot.pause(0.2)
            sizes.append(sum(len(part) for part in written))
    return statistics.median(sizes), statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=20, help="presses per key")
    parser.add_argument("--paths", default=",".join(PATHS), help="graphics paths to measure")
    parser.add_argument("--images", type=Path, default=None, help="a folder of images to use")
    parser.add_argument(
        "--masks", type=Path, default=None, help="their masks: also time new images in the app"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rptui-graphics-") as tmp:
        folder = Path(tmp)
        if args.images is not None:
            workspace = real_workspace(folder / "workspace", args.images, count=3)
        else:
            workspace = make_workspace(folder / "workspace")
        env = COLOUR_MODES["truecolor"]
        for path in args.paths.split(","):
            results[path] = measure_tmux(workspace.root, env, args.presses, folder, graphics=path)
            if path != "halfblocks":
                pictures = picture_latency(workspace.root, env, args.presses, folder, path)
                results[path]["picture"] = pictures
    shown: dict[str, tuple[float, float]] = {}
    if args.images is not None and args.masks is not None:
        pairs = [(i, args.masks / f"{i.stem}.png") for i in sorted(args.images.iterdir())]
        pairs = [pair for pair in pairs if pair[1].is_file()][:NEW_IMAGES]
        for path in args.paths.split(","):
            if path != "halfblocks":
                shown[path] = asyncio.run(new_image_bytes(path, pairs))
    load = os.getloadavg()
    sys.stdout.write(
        f"`{' '.join(['python', *sys.argv])}`: terminal 160x47, {args.presses} presses per key, "
        f"{time.perf_counter() - started:.0f} s, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}\n\n{table(results)}\n"
    )
    for path, (size, ms) in shown.items():
        width, height = CANVAS_CELLS
        sys.stdout.write(
            f"\n{path}: a new image with its mask on a {width * CELL.width}x"
            f"{height * CELL.height}-pixel canvas, median of {NEW_IMAGES}: "
            f"{size / 1000:.0f} KB, {ms:.0f} ms to its first picture byte\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
