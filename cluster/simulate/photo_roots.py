"""Photo-like synthetic roots: the generated roots as a minirhizotron camera sees them.

:func:`cluster.simulate.synthetic.generate_root_image` paints roots on clean, brown soil.
Real tube photos differ in ways a network must learn to ignore: water drops on the tube
(bright rims, blurred insides, highlights), glints of colour, wet dark stains, a grey,
green or purple cast, uneven lighting, defocus, JPEG blocks, and roots at other scales.
:func:`photo_root_image` draws a generated image at a random scale and adds those, all
without changing which pixels are root (the mask follows the scale change only). Used to
train the starter model (``benchmarks/train_starter.py``); deterministic by seed.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

from cluster.simulate.synthetic import generate_root_image

SCALE_RANGE = (0.6, 1.3)  # drawn size / output size: roots thinner or wider than drawn
MASK_SHARE = 0.4  # a resized pixel is root when this share of it was
PRIMARY_WIDTH_RANGE = (1.0, 10.0)  # px at the drawn size
DROPS_PER_MEGAPIXEL = (0.0, 150.0)
DROPLESS = 0.4  # share of images without drops
DROP_RADIUS = (3.0, 30.0)  # px
GLINTS_PER_MEGAPIXEL = (0.0, 15000.0)
GLINT_COLOURS = np.array([[120, 255, 90], [230, 120, 255], [255, 255, 255]], dtype=np.float32)
STAIN_CELL = (48, 160)  # px across a wet patch
STAIN_DARKNESS = (0.0, 0.55)
CAST_GAIN = (0.75, 1.25)  # per-channel gain of the colour cast
GAMMA = (0.7, 1.4)
SATURATION = (0.3, 1.4)
VIGNETTE = (0.0, 0.5)  # darkening at the corners
BLUR_SIGMA = (0.0, 1.4)  # px of defocus
JPEG_QUALITY = (55, 95)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _resized(
    image: np.ndarray, mask: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Image (bilinear) and mask (area share >= MASK_SHARE) at the output size."""
    picture = Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR)
    share = Image.fromarray(mask.astype(np.float32)).resize((width, height), Image.Resampling.BOX)
    return np.asarray(picture, dtype=np.float32), np.asarray(share) >= MASK_SHARE


def _smooth(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth noise in [0, 1] with features about ``cell`` px across."""
    small = rng.random((max(2, int(height / cell) + 2), max(2, int(width / cell) + 2)))
    big = ndimage.zoom(
        small, (height / (small.shape[0] - 1), width / (small.shape[1] - 1)), order=3
    )
    return np.clip(big[:height, :width], 0.0, 1.0).astype(np.float32)


def _stains(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Darken soft-edged wet patches."""
    height, width = image.shape[:2]
    field = _smooth(rng, height, width, rng.uniform(*STAIN_CELL))
    patches = np.clip((field - rng.uniform(0.45, 0.7)) * 6.0, 0.0, 1.0)
    return image * (1.0 - rng.uniform(*STAIN_DARKNESS) * patches)[..., None]


def _drops(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Water drops on the tube: blurred, lightened insides, a bright rim and a highlight."""
    height, width = image.shape[:2]
    count = rng.poisson(rng.uniform(*DROPS_PER_MEGAPIXEL) * height * width / 1e6)
    if count == 0 or rng.random() < DROPLESS:
        return image
    blurred = ndimage.gaussian_filter(image, sigma=(3.0, 3.0, 0))
    rows, cols = np.mgrid[0:height, 0:width]
    out = image.copy()
    for _ in range(count):
        radius = rng.uniform(*DROP_RADIUS)
        r0, c0 = rng.uniform(0, height), rng.uniform(0, width)
        top, bottom = int(max(0, r0 - radius - 2)), int(min(height, r0 + radius + 3))
        left, right = int(max(0, c0 - radius - 2)), int(min(width, c0 + radius + 3))
        box = (slice(top, bottom), slice(left, right))
        distance = np.hypot(rows[box] - r0, cols[box] - c0) / radius
        inside = distance < 1.0
        rim = np.clip(1.0 - np.abs(distance - 0.92) / 0.1, 0.0, 1.0)
        lift = rng.uniform(0.9, 1.25)
        region = out[box]
        region[inside] = blurred[box][inside] * lift
        region += (rim * rng.uniform(15.0, 90.0))[..., None]
        spot = np.hypot(rows[box] - (r0 - 0.4 * radius), cols[box] - (c0 - 0.3 * radius))
        region += (np.exp(-((spot / (0.15 * radius + 0.5)) ** 2)) * rng.uniform(30, 160))[..., None]
    return out


def _glints(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bright one- or two-pixel specks of green, purple or white light."""
    height, width = image.shape[:2]
    count = rng.poisson(rng.uniform(*GLINTS_PER_MEGAPIXEL) * height * width / 1e6)
    out = image.copy()
    rows = rng.integers(0, height, count)
    cols = rng.integers(0, width, count)
    colours = GLINT_COLOURS[rng.integers(0, len(GLINT_COLOURS), count)]
    strength = rng.uniform(0.5, 1.0, (count, 1)).astype(np.float32)
    out[rows, cols] = out[rows, cols] * (1 - strength) + colours * strength
    return ndimage.gaussian_filter(out, sigma=(rng.uniform(0.0, 0.8),) * 2 + (0,))


def _camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour cast, saturation, gamma, vignetting and defocus."""
    height, width = image.shape[:2]
    out = image * rng.uniform(*CAST_GAIN, 3).astype(np.float32)
    grey = (out @ LUMA)[..., None]
    out = grey + (out - grey) * rng.uniform(*SATURATION)
    out = 255.0 * (np.clip(out, 0.0, 255.0) / 255.0) ** rng.uniform(*GAMMA)
    rows, cols = np.mgrid[0:height, 0:width]
    reach = np.hypot(
        (rows - height / 2) / (height / 2), (cols - width / 2) / (width / 2)
    ) / np.sqrt(2)
    out = out * (1.0 - rng.uniform(*VIGNETTE) * reach**2)[..., None]
    sigma = rng.uniform(*BLUR_SIGMA)
    return ndimage.gaussian_filter(out, sigma=(sigma, sigma, 0)) if sigma > 0.2 else out


def _jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    buffer = io.BytesIO()
    quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def photo_root_image(
    *, seed: int, height: int = 256, width: int = 256, root_probability: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """A photo-like soil image with roots, and its root mask.

    Returns:
        (H x W x 3 uint8 RGB image, H x W uint8 mask with 1 on root pixels).
    """
    rng = np.random.default_rng(seed)
    scale = rng.uniform(*SCALE_RANGE)
    drawn_height, drawn_width = max(8, round(height * scale)), max(8, round(width * scale))
    widest = rng.uniform(2.0, PRIMARY_WIDTH_RANGE[1])
    image, mask = generate_root_image(
        seed=int(rng.integers(2**31)),
        height=drawn_height,
        width=drawn_width,
        root_probability=root_probability,
        width_range=(PRIMARY_WIDTH_RANGE[0], widest),
    )
    picture, root = _resized(image, mask, height, width)
    picture = _stains(picture, rng)
    picture = _camera(picture, rng)
    picture = _drops(picture, rng)
    picture = _glints(picture, rng)
    picture = np.clip(picture + 0.5, 0, 255).astype(np.uint8)
    return _jpeg(picture, rng), root.astype(np.uint8)
