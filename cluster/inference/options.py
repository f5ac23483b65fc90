"""The options of a tiled segmentation run, and the exception that stops one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import numpy as np
import torch

from cluster.nn.devices import DeviceInfo


class Cancelled(Exception):
    """Segmentation was stopped by ``should_stop``."""


class RunOptions(TypedDict, total=False):
    """How tiles are run (see :func:`segment_probability`), any of them given."""

    batch_size: int
    tta: bool
    device: DeviceInfo | None
    dtype: torch.dtype | None
    only_where: np.ndarray | None
    should_stop: Callable[[], bool] | None
    progress: Callable[[int, int], None] | None
    max_batch_pixels: int | None


class TileOptions(RunOptions, total=False):
    """:class:`RunOptions` and the tile size."""

    tile_size: int | None


class SegmentOptions(TileOptions, total=False):
    """:class:`TileOptions` and the array to fill with the passes' disagreement."""

    disagreement: np.ndarray | None
