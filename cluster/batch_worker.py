"""One image of a batch run: decode, segment with the ensemble, encode the mask, measure.

No Ray here: :class:`SegmentWorker` is the callable class that :mod:`cluster.batch`
hands to Ray Data's actor pool, and :func:`process_image` is the same work for a
single process, so both paths give the same masks and the same table rows.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cluster.atomic import write_bytes_atomic
from cluster.devices import (
    DeviceInfo,
    Precision,
    pick_device,
    prepare_model,
    resolve_precision,
    set_cpu_threads,
)
from cluster.images import ImageReadError, read_image
from cluster.infer import ensemble_tile, segment
from cluster.mask_formats import SUFFIXES, MaskFormat, encode_mask
from cluster.measure import IMAGE_KINDS, REGIONS, measure_mask
from cluster.modelfile import model_from_bytes
from cluster.regions import region_table
from cluster.snapshot import model_from_snapshot

log = logging.getLogger(__name__)

# Columns of the rows that come back from a worker (Ray Data batches and in-process alike).
NAME = "name"
DATA = "data"  # the encoded image file (object store) or its path (shared storage)
MASK = "mask"  # the encoded mask file; empty when failed or written by the worker
ROW = "row"  # per-image measurements, JSON
REGION_ROWS = "regions"  # per-region measurements, JSON records
ERROR = "error"
SECONDS = "seconds"
PIXELS = "pixels"
TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class BatchSettings:
    """How every image of a run is segmented, encoded and measured."""

    fmt: MaskFormat = "png"
    tta: bool = True
    precision: Precision = "auto"
    tile_size: int | None = None
    kinds: tuple[str, ...] = ()  # any of length, count, tips, regions
    px_per_mm: float | None = None
    min_area: int = 0
    output_dir: str | None = None  # shared storage: workers write masks here themselves


@dataclass
class ImageResult:
    """What became of one image."""

    name: str
    mask: bytes = b""
    row: dict[str, Any] = field(default_factory=dict)
    regions: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    pixels: int = 0

    def to_columns(self) -> dict[str, Any]:
        """The result as one row of plain values (what Ray Data carries)."""
        return {
            NAME: self.name,
            MASK: self.mask,
            ROW: json.dumps(self.row),
            REGION_ROWS: json.dumps(self.regions),
            ERROR: self.error,
            SECONDS: self.seconds,
            PIXELS: self.pixels,
        }

    @classmethod
    def from_columns(cls, row: dict[str, Any]) -> ImageResult:
        """The inverse of :meth:`to_columns`."""
        return cls(
            name=str(row[NAME]),
            mask=bytes(row[MASK]),
            row=json.loads(row[ROW]),
            regions=json.loads(row[REGION_ROWS]),
            error=str(row[ERROR]),
            seconds=float(row[SECONDS]),
            pixels=int(row[PIXELS]),
        )


def mask_name(image_name: str, fmt: MaskFormat) -> str:
    """The file name of an image's mask."""
    return f"{Path(image_name).stem}{SUFFIXES[fmt]}"


def measure(mask: np.ndarray, settings: BatchSettings, name: str) -> tuple[dict, list[dict]]:
    """Per-image row and per-region records of a mask, for the kinds in ``settings``."""
    image_kinds = tuple(kind for kind in settings.kinds if kind in IMAGE_KINDS)
    row: dict[str, Any] = {}
    if image_kinds:
        row = measure_mask(
            mask, kinds=image_kinds, px_per_mm=settings.px_per_mm, min_area=settings.min_area
        )
        row = {key: value.item() if hasattr(value, "item") else value for key, value in row.items()}
    records: list[dict[str, Any]] = []
    if REGIONS in settings.kinds:
        table = region_table(
            mask, file=name, min_area=settings.min_area, px_per_mm=settings.px_per_mm
        )
        records = json.loads(table.to_json(orient="records"))
    return row, records


def process_image(
    models: Sequence[nn.Module],
    image: np.ndarray,
    name: str,
    settings: BatchSettings,
    *,
    device: DeviceInfo,
    dtype: torch.dtype | None,
) -> ImageResult:
    """Segment, encode and measure one decoded image (errors propagate)."""
    started = time.perf_counter()
    mask, probability = segment(
        models, image, tile_size=settings.tile_size, tta=settings.tta, device=device, dtype=dtype
    )
    encoded = encode_mask(mask, fmt=settings.fmt, probability=probability)
    row, records = measure(mask, settings, name) if settings.kinds else ({}, [])
    return ImageResult(
        name=name,
        mask=encoded,
        row=row,
        regions=records,
        seconds=time.perf_counter() - started,
        pixels=int(mask.size),
    )


def models_from_blobs(
    blobs: Sequence[bytes], device: DeviceInfo
) -> tuple[list[nn.Module], int | None]:
    """An ensemble, on the device in eval mode, from model files' bytes, and the tile
    side it segments with (None: chosen per image; see ``cluster.infer.ensemble_tile``)."""
    snapshots = [model_from_bytes(blob) for blob in blobs]
    models = [prepare_model(model_from_snapshot(s), device).eval() for s in snapshots]
    return models, ensemble_tile([s.tile_size for s in snapshots])


class SegmentWorker:
    """A Ray Data actor: holds the ensemble, maps batches of images to masks and rows.

    Args:
        model_blobs: model files' bytes, or an ObjectRef to that list.
        settings: how to segment, encode and measure.
        threads: torch CPU threads (default: what the actor holds, ``OMP_NUM_THREADS``).
    """

    def __init__(self, model_blobs: Any, settings: BatchSettings, threads: int | None = None):
        if not isinstance(model_blobs, list | tuple):
            import ray

            model_blobs = ray.get(model_blobs)
        self.threads = set_cpu_threads(threads)
        self.device = pick_device()
        self.dtype = resolve_precision(self.device, settings.precision)
        self.models, tile = models_from_blobs(model_blobs, self.device)
        if settings.tile_size is None:
            settings = replace(settings, tile_size=tile)
        self.settings = settings
        self._scratch = tempfile.TemporaryDirectory(prefix="rptui-batch-")
        log.info(
            "segment worker ready: %d models on %s, %d threads",
            len(self.models),
            self.device.describe(),
            self.threads,
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = [
            self.one(str(name), data) for name, data in zip(batch[NAME], batch[DATA], strict=True)
        ]
        columns = [result.to_columns() for result in results]
        keys = columns[0] if columns else ImageResult(name="").to_columns()
        return {key: np.array([c[key] for c in columns], dtype=object) for key in keys}

    def one(self, name: str, data: Any) -> ImageResult:
        """One image, from its bytes or (shared storage) its path; never raises."""
        started = time.perf_counter()
        try:
            image = self._decode(name, data)
            result = process_image(
                self.models, image, name, self.settings, device=self.device, dtype=self.dtype
            )
            if self.settings.output_dir is not None:
                target = Path(self.settings.output_dir) / mask_name(name, self.settings.fmt)
                write_bytes_atomic(target, result.mask)
                result.mask = b""
            return result
        except ImageReadError as error:
            reason = error.reason
        except Exception as error:  # one bad image must never end the run
            log.exception("segmenting %s failed", name)
            reason = f"{type(error).__name__}: {error}"
        return ImageResult(name=name, error=reason, seconds=time.perf_counter() - started)

    def _decode(self, name: str, data: Any) -> np.ndarray:
        if isinstance(data, str):
            return read_image(data)
        path = Path(self._scratch.name) / Path(name).name
        path.write_bytes(bytes(data))
        try:
            return read_image(path)
        finally:
            path.unlink(missing_ok=True)
