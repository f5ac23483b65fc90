"""Synthetic root images with exact ground truth, deterministic by seed.

Branching, curving roots of varying width and contrast are painted on textured soil
(multi-scale noise, colour variation, pebbles and specks). The mask holds exactly the
pixels that a root was painted on, and every one of them is visible: a root pixel is
painted opaque, towards the root's colour from the soil around it (never past the soil
colour at a shaded edge), and differs from that soil by at least ``MIN_ROOT_CONTRAST``
grey levels, about twice the strongest per-pixel noise. Used by the demo, tests and
benchmarks; nothing is downloaded.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from scipy import ndimage
from skimage import draw

from cluster.io.images import encode_png

logger = logging.getLogger(__name__)

SOIL_BASE_RGB = np.array([92.0, 72.0, 52.0], dtype=np.float32)
ROOT_LIGHT_RGB = np.array([235.0, 222.0, 190.0], dtype=np.float32)
ROOT_DARK_RGB = np.array([40.0, 28.0, 20.0], dtype=np.float32)
DARK_ROOT_PROBABILITY = 0.15  # some roots are darker than the soil (older, dead)
PATH_STEP = 0.6  # px between stamped points along a root (small enough for no gaps)
MIN_STAMP_RADIUS = 0.55  # a 1 px root still covers a connected line of pixels
NOISE_SCALES = ((96, 0.10), (24, 0.08), (6, 0.06), (1, 0.04))  # (cell px, amplitude)
BRANCH_DEPTH = 2  # primary roots, laterals, laterals of laterals
HEADING_KNOT_PX = 40.0
HEADING_WANDER = 0.35  # rad, std of the heading around its start
EDGE_SHADE = 0.25  # a root's contrast falls by this share from its centreline to its edge
# Sensor noise (std up to 8) and the finest soil texture (up to ~6) make ~10 grey levels of
# per-pixel noise; a root pixel stands at least twice that far from the soil around it.
MIN_ROOT_CONTRAST = 20.0
SOIL_REFERENCE_SIGMA = 2.0  # px, the soil "around" a root pixel (specks blurred away)


def _smooth_noise(
    rng: np.random.Generator, height: int, width: int, cell: int, channels: int = 1
) -> np.ndarray:
    """Noise with features about ``cell`` px across, unit std, shape HxWxC."""
    if cell <= 1:
        return rng.standard_normal((height, width, channels), dtype=np.float32)
    small = rng.standard_normal((height // cell + 2, width // cell + 2, channels), dtype=np.float32)
    big = ndimage.zoom(small, (cell, cell, 1), order=1, mode="nearest", grid_mode=False)
    return big[:height, :width]


def _soil(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textured soil background, HxWx3 float32 in 0..255."""
    base = SOIL_BASE_RGB * rng.uniform(0.6, 1.4) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    brightness = np.ones((height, width, 1), dtype=np.float32)
    for cell, amplitude in NOISE_SCALES:
        brightness += amplitude * rng.uniform(0.5, 1.5) * _smooth_noise(rng, height, width, cell)
    tint = 1.0 + 0.06 * _smooth_noise(rng, height, width, 128, channels=3)
    soil = base * brightness * tint
    area = height * width
    for _ in range(int(rng.poisson(area / 5000))):  # pebbles
        centre_r, centre_c = rng.uniform(0, height), rng.uniform(0, width)
        radius_r, radius_c = rng.uniform(1.5, 10.0, 2)
        rr, cc = draw.ellipse(
            centre_r,
            centre_c,
            radius_r,
            radius_c,
            shape=(height, width),
            rotation=rng.uniform(0, math.pi),
        )
        shade = rng.uniform(0.6, 1.6)
        grey = float(base.mean())
        colour = (0.5 * base + 0.5 * grey) * shade
        soil[rr, cc] = colour + rng.normal(0.0, 6.0, (rr.size, 1)).astype(np.float32)
    specks = int(rng.poisson(area / 400))
    rr = rng.integers(0, height, specks)
    cc = rng.integers(0, width, specks)
    soil[rr, cc] *= rng.choice([0.4, 1.8], size=(specks, 1)).astype(np.float32)
    return soil


def _root_path(
    rng: np.random.Generator, start: np.ndarray, heading: float, length: float
) -> np.ndarray:
    """Points (N, 2) of a curving path, PATH_STEP apart, as (row, col)."""
    steps = max(2, int(length / PATH_STEP))
    # The heading wanders smoothly around its start (knots every ~40 px), so roots bend
    # gently and never curl into loops.
    knots = max(2, int(length / HEADING_KNOT_PX) + 2)
    wander = rng.normal(0.0, HEADING_WANDER, knots)
    wander -= wander[0]
    headings = heading + np.interp(np.linspace(0, knots - 1, steps), np.arange(knots), wander)
    moves = PATH_STEP * np.stack([np.sin(headings), np.cos(headings)], axis=1)
    return start + np.cumsum(moves, axis=0)


def _stamp(
    image: np.ndarray,
    mask: np.ndarray,
    points: np.ndarray,
    radii: np.ndarray,
    contrasts: np.ndarray,
    *,
    target: np.ndarray,
    reference: np.ndarray,
) -> None:
    """Paint disks of ``radii`` at ``points``, ``contrasts`` of the way from soil to ``target``.

    The contrast fades by ``EDGE_SHADE`` towards a disk's edge; every painted pixel ends at
    least ``MIN_ROOT_CONTRAST`` grey levels from the ``reference`` soil, on the root's side.
    """
    height, width = mask.shape
    inside = (
        (points[:, 0] > -10)
        & (points[:, 0] < height + 10)
        & (points[:, 1] > -10)
        & (points[:, 1] < width + 10)
    )
    points, radii, contrasts = points[inside], radii[inside], contrasts[inside]
    if points.size == 0:
        return
    reach = math.ceil(float(radii.max())) + 1
    span = np.arange(-reach, reach + 1)
    off_r, off_c = (a.ravel() for a in np.meshgrid(span, span, indexing="ij"))
    base = np.floor(points).astype(np.int64)
    cand_r = base[:, 0:1] + off_r[None, :]
    cand_c = base[:, 1:2] + off_c[None, :]
    dist2 = (cand_r - points[:, 0:1]) ** 2 + (cand_c - points[:, 1:2]) ** 2
    r2 = (radii**2)[:, None]
    hit = (dist2 <= r2) & (cand_r >= 0) & (cand_r < height) & (cand_c >= 0) & (cand_c < width)
    rows, cols = np.nonzero(hit)
    shading = 1.0 - EDGE_SHADE * (dist2[rows, cols] / np.maximum(r2[rows, 0], 1e-6))
    pr, pc = cand_r[rows, cols], cand_c[rows, cols]
    soil = reference[pr, pc]
    strength = (contrasts[rows] * shading).astype(np.float32)[:, None]
    painted = soil + strength * (target[None, :] - soil)
    side = 1.0 if float(target.mean()) >= float(reference.mean()) else -1.0
    lift = side * (painted - soil).mean(axis=1)
    painted += (side * np.maximum(MIN_ROOT_CONTRAST - lift, 0.0))[:, None]
    image[pr, pc] = painted
    mask[pr, pc] = 1


def _draw_root(
    rng: np.random.Generator,
    image: np.ndarray,
    mask: np.ndarray,
    *,
    start: np.ndarray,
    heading: float,
    length: float,
    width: float,
    target: np.ndarray,
    contrast: float,
    reference: np.ndarray,
    depth: int,
) -> None:
    points = _root_path(rng, start, heading, length)
    n = len(points)
    taper = np.linspace(1.0, rng.uniform(0.55, 1.0), n)
    radii = np.maximum(width * taper / 2.0, MIN_STAMP_RADIUS)
    along = 1.0 + 0.12 * np.interp(np.arange(n), np.linspace(0, n, 8), rng.standard_normal(8))
    contrasts = np.clip(contrast * along, 0.0, 1.0).astype(np.float32)
    _stamp(
        image,
        mask,
        points,
        radii.astype(np.float32),
        contrasts,
        target=target,
        reference=reference,
    )
    if depth >= BRANCH_DEPTH or width < 1.5:
        return
    position = rng.uniform(10.0, 60.0) / PATH_STEP
    while position < n - 5:
        index = int(position)
        d_r, d_c = points[min(index + 1, n - 1)] - points[max(index - 1, 0)]
        parent_heading = math.atan2(d_r, d_c)
        side = rng.choice([-1.0, 1.0])
        _draw_root(
            rng,
            image,
            mask,
            start=points[index].copy(),
            heading=parent_heading + side * rng.uniform(math.radians(40), math.radians(85)),
            length=length * rng.uniform(0.1, 0.45),
            width=max(1.0, width * taper[index] * rng.uniform(0.3, 0.7)),
            target=target,
            contrast=contrast * float(rng.uniform(0.9, 1.05)),
            reference=reference,
            depth=depth + 1,
        )
        position += rng.uniform(25.0, 120.0) / PATH_STEP


def _root_colour(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A root's target colour and how far (0..1) its centre goes from the soil towards it."""
    if rng.random() < DARK_ROOT_PROBABILITY:
        return ROOT_DARK_RGB, float(rng.uniform(0.5, 0.9))
    return ROOT_LIGHT_RGB, float(rng.uniform(0.3, 0.9))


def generate_root_image(
    *,
    seed: int,
    height: int = 256,
    width: int = 256,
    root_probability: float = 0.9,
    width_range: tuple[float, float] = (1.0, 8.0),
    noise_sigma: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic soil image with roots, and its exact root mask.

    Args:
        seed: the same seed always gives the same image and mask.
        height, width: image size in pixels.
        root_probability: chance that the image has any roots (else soil only).
        width_range: primary root widths are drawn from this range (px); laterals are
            thinner, down to 1 px.
        noise_sigma: std of the sensor noise added at the end; random when None.

    Returns:
        (HxWx3 uint8 RGB image, HxW uint8 mask with 1 on root pixels).
    """
    rng = np.random.default_rng(seed)
    image = _soil(rng, height, width)
    reference = ndimage.gaussian_filter(
        image, sigma=(SOIL_REFERENCE_SIGMA, SOIL_REFERENCE_SIGMA, 0), mode="nearest"
    )
    mask = np.zeros((height, width), dtype=np.uint8)
    if rng.random() < root_probability:
        size = math.sqrt(height * width)
        primaries = int(rng.integers(1, 4)) + int(rng.poisson(size / 512))
        for _ in range(primaries):
            # Start on an edge or inside, heading roughly into the image.
            start = np.array([rng.uniform(0, height), rng.uniform(0, width)])
            edge = rng.integers(0, 5)
            if edge == 0:
                start[0], heading = -2.0, math.pi / 2
            elif edge == 1:
                start[1], heading = -2.0, 0.0
            elif edge == 2:
                start[1], heading = width + 2.0, math.pi
            else:
                heading = rng.uniform(0, 2 * math.pi)
            heading += rng.normal(0.0, 0.5)
            length = rng.uniform(0.6, 1.6) * size
            root_width = rng.uniform(*width_range)
            target, contrast = _root_colour(rng)
            _draw_root(
                rng,
                image,
                mask,
                start=start,
                heading=heading,
                length=length,
                width=root_width,
                target=target,
                contrast=contrast,
                reference=reference,
                depth=0,
            )
    sigma = rng.uniform(2.0, 8.0) if noise_sigma is None else noise_sigma
    if sigma > 0:
        image += rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), mask


def write_dataset(
    folder: Path | str,
    *,
    count: int,
    seed: int,
    height: int = 256,
    width: int = 256,
    masks_folder: Path | str | None = None,
    root_probability: float = 0.9,
) -> list[Path]:
    """Write ``count`` synthetic images as ``root_000.png``... (masks as 0/255 PNGs).

    Image ``i`` comes from a seed derived from (``seed``, ``i``), so a dataset is
    reproducible and a larger count only adds images. Returns the image paths.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    masks = Path(masks_folder) if masks_folder is not None else None
    if masks is not None:
        masks.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(count - 1)))
    written: list[Path] = []
    for index in range(count):
        image_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        image, mask = generate_root_image(
            seed=image_seed, height=height, width=width, root_probability=root_probability
        )
        name = f"root_{index:0{digits}d}.png"
        (folder / name).write_bytes(encode_png(image))
        if masks is not None:
            (masks / name).write_bytes(encode_png(mask * np.uint8(255)))
        written.append(folder / name)
    logger.info("wrote %d synthetic images to %s", count, folder)
    return written
