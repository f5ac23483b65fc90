"""Reading one page of a TIFF with tifffile: planar, CMYK and min-is-white layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from cluster.io.image_limits import ImageReadError, check_size


def _cmyk_to_rgb(array: np.ndarray) -> np.ndarray:
    ink = array[..., :4].astype(np.float32) / np.float32(np.iinfo(array.dtype).max)
    rgb = (1.0 - ink[..., :3]) * (1.0 - ink[..., 3:4])
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def tiff_page(page: tifffile.TiffPage | tifffile.TiffFrame) -> tifffile.TiffPage:
    """A TIFF page that has its own tags (size, photometric, description).

    Raises:
        ValueError: ``page`` is a frame, which shares its tags with a key page (tifffile
            reads some pages of LSM files so).
    """
    if not isinstance(page, tifffile.TiffPage):
        raise ValueError(f"TIFF page {page.index} has no tags of its own")
    return page


def read_tiff_page(path: Path, page: int, max_pixels: int) -> np.ndarray:
    with tifffile.TiffFile(path) as tif:
        pages = tif.pages
        if len(pages) == 0:
            raise ValueError("no readable pages (corrupt TIFF)")
        if not 0 <= page < len(pages):
            raise ImageReadError(path, f"page {page} out of range (the file has {len(pages)})")
        chosen = tiff_page(pages[page])
        axes = chosen.axes
        height = chosen.imagelength
        width = chosen.imagewidth
        check_size(path, height, width, max_pixels)
        array = chosen.asarray()
        photometric = chosen.photometric
    if array.ndim == 3 and axes.startswith("S"):  # planar: samples first
        array = np.moveaxis(array, 0, -1)
    array = np.squeeze(array) if array.ndim > 3 else array
    if array.ndim not in (2, 3):
        raise ImageReadError(path, f"unsupported TIFF layout {axes} {array.shape}")
    separated = photometric == tifffile.PHOTOMETRIC.SEPARATED
    if separated and array.ndim == 3 and array.shape[2] >= 4 and array.dtype.kind == "u":
        return _cmyk_to_rgb(array)
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE and array.ndim == 2:
        if array.dtype == bool:
            array = ~array
        elif np.issubdtype(array.dtype, np.integer):
            array = np.iinfo(array.dtype).max - array
        else:
            array = -array
    return array
