"""What a photo costs as a Kitty PNG and as a Sixel image, coded each way, and what it keeps.

Run: ``nice -n 10 .venv/bin/python benchmarks/picture_codings.py IMAGES [--count 12]``.

Each image is shown whole on a 1600x900-pixel canvas, as the true-pixel canvas draws it
(a small photo a view pixel per image pixel), without overlays. Kitty rows give the base64
bytes of the photo in 5 bits a channel:

* ``whole view, spread levels, zlib default``: the view with its margins, levels spread over
  0..255 (``quantise``), Pillow's default PNG (how the photo was sent before);
* ``photo box, even levels, zlib default``: the box the image covers, levels at the middle
  of what they stand for (``quantise_even``);
* ``photo box, even levels, as sent``: the same through ``kitty.png_bytes`` (palette indices
  for few colours, Huffman codes alone for a photo shown a pixel per pixel).

Sixel rows give the bytes of the whole view at 256, 128 and 64 palette colours (median
cut, not dithered), and the PSNR of what shows against the 5-bit view. Figures are the
median over the images and the smallest-largest range.
"""

from __future__ import annotations

import argparse
import base64
import io
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from cluster.io.images import read_image
from rptui.tui.canvas.display_tone import as_rgb8, quantise, quantise_even
from rptui.tui.canvas.render import render_view
from rptui.tui.canvas.viewport import Viewport
from rptui.tui.graphics import kitty, sixel
from rptui.tui.graphics.frame import mask_box

VIEW = (900, 1600)
BITS = 5
SIXEL_COLOURS = (256, 128, 64)


def _b64(data: bytes) -> int:
    return len(base64.standard_b64encode(data))


def _default_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=kitty.PNG_LEVEL)
    return buffer.getvalue()


def _psnr(shown: np.ndarray, view: np.ndarray) -> float:
    error = float(np.mean((shown.astype(np.float64) - view.astype(np.float64)) ** 2))
    return math.inf if error == 0 else 10 * math.log10(255**2 / error)


def _timed(code: Callable[[], bytes | str]) -> tuple[int, float]:
    started = time.perf_counter()
    data = code()
    elapsed = (time.perf_counter() - started) * 1000
    return (_b64(data) if isinstance(data, bytes) else len(data)), elapsed


def measure(path: Path) -> dict[str, tuple[int, float, float]]:
    """Bytes, ms and PSNR (dB; inf: exact) of each coding of one image's view."""
    image = as_rgb8(read_image(path))
    viewport = Viewport.fitted(image.shape[0], image.shape[1], *VIEW)
    view = render_view(image, viewport)
    box = mask_box((view != view[:1, :1]).any(axis=-1))
    assert box is not None
    y0, x0, y1, x1 = box
    spread, even = quantise(view, BITS), quantise_even(view, BITS)[y0:y1, x0:x1]
    rows: dict[str, tuple[int, float, float]] = {}
    for name, code in (
        ("Kitty: whole view, spread levels, zlib default", lambda: _default_png(spread)),
        ("Kitty: photo box, even levels, zlib default", lambda: _default_png(even)),
        ("Kitty: photo box, even levels, as sent", lambda: kitty.png_bytes(even)),
    ):
        size, ms = _timed(code)
        rows[name] = (size, ms, math.inf)
    everything = np.ones(spread.shape[:2], bool)
    for colours in SIXEL_COLOURS:
        started = time.perf_counter()
        palette, indices = sixel.palette_indices(spread, everything, colours)
        text = sixel.encode(indices, palette)
        ms = (time.perf_counter() - started) * 1000
        shown = sixel.shown_colours(palette[indices])
        psnr = _psnr(shown, sixel.shown_colours(spread))
        rows[f"Sixel: whole view, {colours} colours"] = (len(text), ms, psnr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path, help="a folder of images")
    parser.add_argument("--count", type=int, default=12, help="the first this many images")
    args = parser.parse_args(argv)
    paths = sorted(p for p in args.images.iterdir() if p.is_file())[: args.count]
    if not paths:
        parser.error(f"no images in {args.images}")
    results = [measure(path) for path in paths]
    sys.stdout.write(
        f"`{' '.join(['python', *sys.argv])}`: {len(paths)} images, canvas "
        f"{VIEW[1]}x{VIEW[0]} px\n\n"
        "| coding | KB median | KB range | ms median | PSNR dB median |\n|---|---|---|---|---|\n"
    )
    for name in results[0]:
        sizes = [result[name][0] / 1000 for result in results]
        ms = statistics.median(result[name][1] for result in results)
        psnr = statistics.median(result[name][2] for result in results)
        kept = "exact" if math.isinf(psnr) else f"{psnr:.1f}"
        sys.stdout.write(
            f"| {name} | {statistics.median(sizes):.0f} | {min(sizes):.0f}–{max(sizes):.0f} "
            f"| {ms:.0f} | {kept} |\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
