"""Training-tile augmentation (docs/method.md, Augmentation), in numpy and torch only.

Four transforms in a random order, each with probability 0.8 — elastic grid
deformation, Gaussian noise, salt-and-pepper, colour jitter — then a horizontal flip
with probability 0.5. Labels move only with the geometric transforms and use
nearest-neighbour sampling, so every label value (0 unlabelled, class index + 1) stays exact.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

TRANSFORM_P = 0.8
FLIP_P = 0.5
ELASTIC_ALPHA = (200.0, 2500.0)  # displacement strength, pixels
ELASTIC_SIGMA = (15.0, 60.0)  # displacement smoothness, pixels
ELASTIC_ALPHA_SCALE = (0.4, 1.0)
ELASTIC_TRUNCATE = 3.0  # smoothing kernel radius in sigmas
ELASTIC_GRID_FACTOR = 8  # the field is made at 1/8 of the tile size, then interpolated up
NOISE_SIGMA = 0.09
SALT_PEPPER_AMOUNT = 0.008
BRIGHTNESS = 0.3
CONTRAST = 0.3
SATURATION = 0.2
HUE = 0.001
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

Transform = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _small_field(
    height: int, width: int, rng: np.random.Generator, *, alpha: float, sigma: float
) -> np.ndarray:
    """The displacement field (dy, dx) in pixels on a grid 1/8 of the tile size."""
    small = (
        max(2, -(-height // ELASTIC_GRID_FACTOR)),
        max(2, -(-width // ELASTIC_GRID_FACTOR)),
    )
    smoothing = sigma / ELASTIC_GRID_FACTOR
    # Noise is drawn on a grid at least as wide as the smoothing kernel and the middle is
    # kept, so a small tile gets the same local field as a large one (on a 16-cell grid
    # the mirrored edges made the field a near-uniform shift of up to ~20 px rms).
    margin = math.ceil(ELASTIC_TRUNCATE * smoothing)
    noise = rng.uniform(-1.0, 1.0, size=(2, small[0] + 2 * margin, small[1] + 2 * margin))
    # One coarse cell stands for 8 x 8 full-resolution noise pixels, whose mean varies 8x
    # less: dividing by 8 keeps alpha's meaning at full resolution (rms 2-8 px at 572, as
    # a full-size field gives; without it 17-70 px).
    gain = alpha / ELASTIC_GRID_FACTOR
    smooth = np.stack([gaussian_filter(f, smoothing, truncate=ELASTIC_TRUNCATE) for f in noise])
    return smooth[:, margin : margin + small[0], margin : margin + small[1]] * gain


def _upsample(field: np.ndarray, height: int, width: int) -> torch.Tensor:
    """Bilinear interpolation of a 2 x h x w field up to 1 x 2 x H x W."""
    return F.interpolate(
        torch.from_numpy(field.astype(np.float32))[None],
        size=(height, width),
        mode="bilinear",
        align_corners=False,
    )


def elastic_field(
    height: int, width: int, rng: np.random.Generator, *, alpha: float, sigma: float
) -> np.ndarray:
    """A smooth random displacement field, 2 x H x W (dy, dx) in pixels.

    Made on a grid 1/8 the size (smoothed with ``sigma / 8``) and interpolated up.
    """
    field = _small_field(height, width, rng, alpha=alpha, sigma=sigma)
    return _upsample(field, height, width)[0].numpy()


def elastic_parameters(rng: np.random.Generator) -> tuple[float, float]:
    """(alpha, sigma): both from one uniform gamma, then alpha scaled by U(0.4, 1)."""
    gamma = rng.uniform()
    alpha = ELASTIC_ALPHA[0] + gamma * (ELASTIC_ALPHA[1] - ELASTIC_ALPHA[0])
    sigma = ELASTIC_SIGMA[0] + gamma * (ELASTIC_SIGMA[1] - ELASTIC_SIGMA[0])
    return alpha * rng.uniform(*ELASTIC_ALPHA_SCALE), sigma


@functools.lru_cache(maxsize=8)
def _identity_grid(height: int, width: int) -> torch.Tensor:
    """1 x H x W x 2 sampling grid (x, y) in grid_sample's units that leaves a tile as is."""
    ys = torch.linspace(-1.0, 1.0, height) if height > 1 else torch.zeros(1)
    xs = torch.linspace(-1.0, 1.0, width) if width > 1 else torch.zeros(1)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y], dim=-1)[None].contiguous()


def elastic(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Warp image (bilinear) and labels (nearest) by the same random elastic field."""
    height, width = labels.shape
    alpha, sigma = elastic_parameters(rng)
    field = _small_field(height, width, rng, alpha=alpha, sigma=sigma)
    # Pixels to grid_sample's units (align_corners=True: -1 and 1 are the edge pixels),
    # done on the small grid; (dy, dx) becomes (dx, dy) as grid_sample wants x first.
    scale = np.array([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)])[:, None, None]
    field = field[::-1] * scale
    grid = _upsample(field, height, width).permute(0, 2, 3, 1) + _identity_grid(height, width)
    image_t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    warped = F.grid_sample(
        image_t, grid, mode="bilinear", padding_mode="reflection", align_corners=True
    )
    labels_t = torch.from_numpy(labels.astype(np.float32))[None, None]
    warped_labels = F.grid_sample(
        labels_t, grid, mode="nearest", padding_mode="reflection", align_corners=True
    )
    out_image = warped[0].permute(1, 2, 0).contiguous().numpy()
    out_labels = warped_labels[0, 0].numpy().round().astype(labels.dtype)
    return out_image, out_labels


def gaussian_noise(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Add noise with sigma = |N(0, 0.09)|."""
    sigma = abs(rng.normal(0.0, NOISE_SIGMA))
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    image = image + noise
    np.clip(image, 0.0, 1.0, out=image)
    return image, labels


def salt_and_pepper(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Set a fraction |N(0, 0.008)| of pixels to black or white (half each)."""
    amount = abs(rng.normal(0.0, SALT_PEPPER_AMOUNT))
    draw = rng.random(labels.shape, dtype=np.float32)
    image = image.copy()
    image[draw < amount / 2] = 0.0
    image[(draw >= amount / 2) & (draw < amount)] = 1.0
    return image, labels


def _hue_matrix(turns: float) -> np.ndarray:
    """RGB rotation about the grey axis by ``turns`` of a full hue circle."""
    angle = 2.0 * np.pi * turns
    cos, sin = np.cos(angle), np.sin(angle)
    third, root = 1.0 / 3.0, np.sqrt(1.0 / 3.0)
    a = cos + (1.0 - cos) * third
    b = third * (1.0 - cos) - root * sin
    c = third * (1.0 - cos) + root * sin
    return np.array([[a, b, c], [c, a, b], [b, c, a]], dtype=np.float32)


def colour_jitter(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Brightness 0.3, contrast 0.3, saturation 0.2, hue 0.001, in a random order."""
    brightness = np.float32(rng.uniform(1.0 - BRIGHTNESS, 1.0 + BRIGHTNESS))
    contrast = np.float32(rng.uniform(1.0 - CONTRAST, 1.0 + CONTRAST))
    saturation = np.float32(rng.uniform(1.0 - SATURATION, 1.0 + SATURATION))
    hue = rng.uniform(-HUE, HUE)
    out = image
    for step in rng.permutation(4):
        if step == 0:
            out = out * brightness
        elif step == 1:
            mean = np.float32((out @ LUMA).mean())
            out = (out - mean) * contrast + mean
        elif step == 2:
            grey = (out @ LUMA)[..., None]
            out = (out - grey) * saturation + grey
        else:
            out = out @ _hue_matrix(hue).T
        np.clip(out, 0.0, 1.0, out=out)
    return out.astype(np.float32, copy=False), labels


TRANSFORMS: tuple[Transform, ...] = (elastic, gaussian_noise, salt_and_pepper, colour_jitter)


def augment(
    image: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Augment one tile.

    Args:
        image: H x W x 3, uint8 or float in [0, 1].
        labels: H x W uint8 (0 unlabelled, class index + 1 where painted).
        rng: the random source.

    Returns:
        (image float32 H x W x 3 in [0, 1], labels of the input dtype with the same values).
    """
    if image.dtype == np.uint8:
        out = image.astype(np.float32) / np.float32(255.0)
    else:
        out = np.array(image, dtype=np.float32)
    out_labels = labels
    for index in rng.permutation(len(TRANSFORMS)):
        if rng.uniform() < TRANSFORM_P:
            out, out_labels = TRANSFORMS[index](out, out_labels, rng)
    if rng.uniform() < FLIP_P:
        out, out_labels = out[:, ::-1], out_labels[:, ::-1]
    return np.ascontiguousarray(out, dtype=np.float32), np.ascontiguousarray(out_labels)
