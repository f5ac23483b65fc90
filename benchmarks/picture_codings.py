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

Sixel rows give the bytes of the whole view (not dithered) with palettes of 256, 128 and
64 colours by median cut of all pixels (``sixel.palette_indices``), each colour sent only
where it shows (before) or, for 256, as sent (painted over in pictures of few colours,
``sixel_overpaint``); of 256, 192 and 160 colours by median cut of a sample refined by
k-means (``refined_palette``, painted over likewise); and of 256 median-cut colours where
each pixel of a band takes the colour of the pixel above it when that is within 14 (RGB
distance) of its own (fewer colours a sixel, as run-length coding wants). With each, the
PSNR of what shows against the 5-bit view and the largest error of a channel at any
pixel. Figures are the median over the images and the smallest-largest range.
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
REFINED = (256, 192, 160)  # colours: median cut of a sample, refined by k-means
MERGED_WITHIN = 14.0


def _b64(data: bytes) -> int:
    return len(base64.standard_b64encode(data))


def _default_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=kitty.PNG_LEVEL)
    return buffer.getvalue()


def refined_palette(pixels: np.ndarray, colours: int) -> tuple[np.ndarray, np.ndarray]:
    """``colours`` colours by a median cut of every 4th pixel refined by 4 k-means passes,
    each pixel in its nearest (exact when the pixels hold at most 256 colours)."""
    flat = np.ascontiguousarray(pixels.reshape(1, -1, 3))
    if Image.fromarray(flat).getcolors(sixel.MAX_COLOURS) is not None:
        return sixel.palette_indices(pixels, np.ones(pixels.shape[:2], bool))
    chooser = Image.fromarray(np.ascontiguousarray(flat[:, ::4])).quantize(
        colours, method=Image.Quantize.MEDIANCUT, kmeans=4, dither=Image.Dither.NONE
    )
    mapped = Image.fromarray(pixels).quantize(palette=chooser, dither=Image.Dither.NONE)
    palette = np.asarray(chooser.getpalette() or [], np.uint8).reshape(-1, 3)
    return palette, np.asarray(mapped, np.int16)


def merged_down_bands(indices: np.ndarray, palette: np.ndarray, within: float) -> np.ndarray:
    """Each pixel below the top of its six-row band takes the colour of the pixel above it
    (as already merged) when that colour is within ``within`` of its own."""
    merged = indices.copy()
    colours = palette.astype(np.float64)
    for y in range(indices.shape[0]):
        if y % sixel.BAND:
            above, own = merged[y - 1], indices[y]
            near = np.linalg.norm(colours[above] - colours[own], axis=-1) <= within
            merged[y] = np.where(near, above, own)
    return merged


def _psnr(shown: np.ndarray, view: np.ndarray) -> float:
    error = float(np.mean((shown.astype(np.float64) - view.astype(np.float64)) ** 2))
    return math.inf if error == 0 else 10 * math.log10(255**2 / error)


def _timed(code: Callable[[], bytes | str]) -> tuple[int, float]:
    started = time.perf_counter()
    data = code()
    elapsed = (time.perf_counter() - started) * 1000
    return (_b64(data) if isinstance(data, bytes) else len(data)), elapsed


def measure(path: Path) -> dict[str, tuple[int, float, float, int]]:
    """Bytes, ms, PSNR (dB; inf: exact) and largest error of each coding of one image's view."""
    image = as_rgb8(read_image(path))
    viewport = Viewport.fitted(image.shape[0], image.shape[1], *VIEW)
    view = render_view(image, viewport)
    box = mask_box((view != view[:1, :1]).any(axis=-1))
    assert box is not None
    y0, x0, y1, x1 = box
    spread, even = quantise(view, BITS), quantise_even(view, BITS)[y0:y1, x0:x1]
    rows: dict[str, tuple[int, float, float, int]] = {}
    for name, code in (
        ("Kitty: whole view, spread levels, zlib default", lambda: _default_png(spread)),
        ("Kitty: photo box, even levels, zlib default", lambda: _default_png(even)),
        ("Kitty: photo box, even levels, as sent", lambda: kitty.png_bytes(even)),
    ):
        size, ms = _timed(code)
        rows[name] = (size, ms, math.inf, 0)
    everything = np.ones(spread.shape[:2], bool)
    plain = "each colour only where it shows"
    codings = [(f"256 colours, median cut, {plain} (before)", 256, False, False, False)]
    codings += [("256 colours, median cut, painted over (as sent)", 256, False, False, True)]
    codings += [(f"{c} colours, median cut, {plain}", c, False, False, False) for c in (128, 64)]
    codings += [(f"{c} colours, refined, painted over", c, True, False, True) for c in REFINED]
    merged = f"256 colours, median cut, merged down bands within {MERGED_WITHIN:g}, {plain}"
    codings += [(merged, 256, False, True, False)]
    target = sixel.shown_colours(spread)
    for name, colours, refine, merge, overpaint in codings:
        started = time.perf_counter()
        if refine:
            palette, indices = refined_palette(spread, colours)
        else:
            palette, indices = sixel.palette_indices(spread, everything, colours)
        if merge:
            indices = merged_down_bands(indices, palette, MERGED_WITHIN)
        text = sixel.encode(indices, palette, overpaint=overpaint)
        ms = (time.perf_counter() - started) * 1000
        shown = sixel.shown_colours(palette[indices])
        worst = int(np.abs(shown.astype(np.int64) - target).max())
        rows[f"Sixel: whole view, {name}"] = (len(text), ms, _psnr(shown, target), worst)
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
        "| coding | KB median | KB range | ms median | PSNR dB median | largest error, "
        "median (range) |\n|---|---|---|---|---|---|\n"
    )
    for name in results[0]:
        sizes = [result[name][0] / 1000 for result in results]
        ms = statistics.median(result[name][1] for result in results)
        psnr = statistics.median(result[name][2] for result in results)
        kept = "exact" if math.isinf(psnr) else f"{psnr:.1f}"
        worst = [result[name][3] for result in results]
        largest = (
            f"{statistics.median(worst):.0f} ({min(worst)}–{max(worst)})"
            if name.startswith("Sixel")
            else "–"  # Kitty sends the 5-bit levels as they are
        )
        sys.stdout.write(
            f"| {name} | {statistics.median(sizes):.0f} | {min(sizes):.0f}–{max(sizes):.0f} "
            f"| {ms:.0f} | {kept} | {largest} |\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
