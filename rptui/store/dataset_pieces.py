"""Cutting a dataset image into a grid of pieces near a target size, written as PNGs."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from cluster.io.atomic import write_bytes_atomic
from cluster.io.images import encode_png

DEFAULT_TARGET_SIZE = 750
DEFAULT_MIN_SIZE = 600
PNG_COMPRESS_LEVEL = 4
OUTPUT_SUFFIX = ".png"


def choose_grid(
    height: int,
    width: int,
    *,
    target_size: int = DEFAULT_TARGET_SIZE,
    min_size: int = DEFAULT_MIN_SIZE,
) -> tuple[int, int]:
    """The grid (rows, cols) to cut an image into.

    Every grid whose pieces are at least ``min_size`` px on each side is scored by
    |aspect - 1| (aspect = longer / shorter piece side) plus |piece area - target²|,
    each term divided by its largest value over the candidates; the lowest score wins.
    An image too small to split gives (1, 1): it is kept whole.
    """
    if target_size <= 0 or min_size <= 0:
        raise ValueError("target_size and min_size must be positive")
    max_rows, max_cols = height // min_size, width // min_size
    if max_rows < 1 or max_cols < 1:
        return (1, 1)
    grids = [(r, c) for r in range(1, max_rows + 1) for c in range(1, max_cols + 1)]
    piece_h = np.array([height / r for r, _ in grids])
    piece_w = np.array([width / c for _, c in grids])
    aspect_term = np.maximum(piece_h, piece_w) / np.minimum(piece_h, piece_w) - 1.0
    area_term = np.abs(piece_h * piece_w - float(target_size) ** 2)
    score = np.zeros(len(grids))
    for term in (aspect_term, area_term):
        largest = term.max()
        if largest > 0:
            score += term / largest
    return grids[int(np.argmin(score))]  # ties: the first, i.e. the fewest pieces


def grid_boxes(
    height: int, width: int, rows: int, cols: int
) -> list[tuple[int, int, int, int, int, int]]:
    """Pieces of a rows x cols grid as (row, col, top, bottom, left, right)."""
    row_edges = [round(i * height / rows) for i in range(rows + 1)]
    col_edges = [round(j * width / cols) for j in range(cols + 1)]
    return [
        (r, c, row_edges[r], row_edges[r + 1], col_edges[c], col_edges[c + 1])
        for r in range(rows)
        for c in range(cols)
    ]


def _pick_pieces(
    boxes: list[tuple[int, int, int, int, int, int]],
    tiles_per_image: int | None,
    *,
    seed: int,
    name: str,
) -> list[tuple[int, int, int, int, int, int]]:
    if tiles_per_image is None or tiles_per_image >= len(boxes):
        return boxes
    # Seeded by the file name too, so one image's pieces do not depend on the others.
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    chosen = np.sort(rng.choice(len(boxes), size=tiles_per_image, replace=False))
    return [boxes[i] for i in chosen]


def _free_path(destination: Path, name: str) -> Path:
    """``name`` in ``destination``, numbered if this run already wrote that name.

    Only reached when a source name looks like another image's piece name (``a_0_1``
    kept whole beside a split ``a``); the destination started empty.
    """
    target = destination / f"{name}{OUTPUT_SUFFIX}"
    number = 2
    while target.exists():
        target = destination / f"{name}-{number}{OUTPUT_SUFFIX}"
        number += 1
    return target


def write_pieces(
    image: np.ndarray,
    destination: Path,
    stem: str,
    *,
    tiles_per_image: int | None,
    target_size: int,
    min_size: int,
    seed: int,
) -> list[Path]:
    """Write ``image`` whole, or the pieces of its grid (at most ``tiles_per_image``), as
    PNGs named after ``stem``; returns the files written."""
    height, width = image.shape[:2]
    rows, cols = choose_grid(height, width, target_size=target_size, min_size=min_size)
    if rows * cols == 1:
        target = _free_path(destination, stem)
        write_bytes_atomic(target, encode_png(image, compress_level=PNG_COMPRESS_LEVEL))
        return [target]
    written: list[Path] = []
    boxes = _pick_pieces(
        grid_boxes(height, width, rows, cols), tiles_per_image, seed=seed, name=stem
    )
    for row, col, top, bottom, left, right in boxes:
        target = _free_path(destination, f"{stem}_{row}_{col}")
        piece = image[top:bottom, left:right]
        write_bytes_atomic(target, encode_png(piece, compress_level=PNG_COMPRESS_LEVEL))
        written.append(target)
    return written
