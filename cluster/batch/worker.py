"""One image (or one slice of a stack) of a batch run: decode, segment, encode, measure.

No Ray here: :class:`SegmentWorker` is the callable class that :mod:`cluster.batch.pipeline`
hands to Ray Data's actor pool, and :func:`process_image` is the same work for a
single process, so both paths give the same masks and the same table rows.

A stack is segmented slice by slice: each slice is one :class:`Unit` named
``<stem>.z0003`` (numbered from 1), read with the stack's one intensity window; its mask
comes back as a label PNG of class indices for the driver to put into the stack's TIFF.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from cluster.api import THRESHOLD
from cluster.backends.declared_gpus import warn_if_gpu_absent
from cluster.inference.planning import ensemble_tile
from cluster.inference.tiled import segment
from cluster.io.atomic import write_bytes_atomic
from cluster.io.image_limits import ImageReadError
from cluster.io.images import encode_png, read_image
from cluster.io.mask_formats import SUFFIXES, MaskFormat, encode_mask
from cluster.io.model_files import ensemble_classes, model_from_bytes
from cluster.io.model_metadata import ensemble_threshold
from cluster.io.stacks import read_stack_slice
from cluster.io.worker_log import log_to_worker_file
from cluster.measure.regions import region_table
from cluster.measure.tables import (
    DEFAULT_TRAITS,
    REGIONS,
    ScaleOptions,
    is_multiclass,
    measure_rows,
    named_regions,
)
from cluster.measure.traits import TraitSettings
from cluster.nn.devices import (
    DeviceInfo,
    Precision,
    pick_device,
    prepare_model,
    resolve_precision,
    set_cpu_threads,
)
from cluster.nn.snapshot import model_from_snapshot

log = logging.getLogger(__name__)

# Columns of the rows that come back from a worker (Ray Data batches and in-process alike).
NAME = "name"
DATA = "data"  # the encoded image file (object store) or its path (shared storage)
MASK = "mask"  # the encoded mask file; empty when failed or written by the worker
ROW = "row"  # per-image measurements (one row, or one per class), JSON records
Z = "z"  # the slice of a stack (0-based), -1 for a plain image
WINDOW = "window"  # the stack's intensity window, JSON ('null': the slice's own)
REGION_ROWS = "regions"  # per-region measurements, JSON records
ERROR = "error"
SECONDS = "seconds"
PIXELS = "pixels"
TEMP_SUFFIX = ".tmp"
SLICE_SUFFIX = ".png"  # slices travel to workers as PNG files
NOT_A_SLICE = -1


@dataclass(frozen=True)
class BatchSettings:
    """How every image of a run is segmented, encoded and measured."""

    fmt: MaskFormat = "png"
    tta: bool = True
    precision: Precision = "auto"
    tile_size: int | None = None
    kinds: tuple[str, ...] = ()  # any of cluster.measure.tables.ALL_KINDS
    px_per_mm: float | None = None
    min_area: int = 0
    traits: TraitSettings = DEFAULT_TRAITS  # pruning, diameter classes, angle window
    output_dir: str | None = None  # shared storage: workers write masks here themselves
    classes: tuple[str, ...] = ()  # the models' class names; () until the worker reads them
    threshold: float | None = None  # binary: foreground above it; None: the models' own
    models: str = ""  # the record of the model files, written into each mask (provenance)


def slice_failure(error: ImageReadError) -> str:
    """Why a slice could not be read, naming its file (a slice file, or the stack's TIFF)."""
    return f"{error.path.name}: {error.reason}"


@dataclass(frozen=True)
class Unit:
    """One piece of work: an image file, or slice ``z`` of a stack (file or slice folder)."""

    name: str  # the image's file name, or the slice's name
    path: Path
    z: int = NOT_A_SLICE
    window: tuple[float, float] | None = None

    @property
    def is_slice(self) -> bool:
        """Whether this is a slice of a stack."""
        return self.z >= 0


@dataclass
class ImageResult:
    """What became of one image."""

    name: str
    mask: bytes = b""
    rows: list[dict[str, Any]] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    pixels: int = 0

    @property
    def row(self) -> dict[str, Any]:
        """The per-image row of a binary mask (the first row; {} when none)."""
        return self.rows[0] if self.rows else {}

    def to_columns(self) -> dict[str, Any]:
        """The result as one row of plain values (what Ray Data carries)."""
        return {
            NAME: self.name,
            MASK: self.mask,
            ROW: json.dumps(self.rows),
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
            rows=json.loads(row[ROW]),
            regions=json.loads(row[REGION_ROWS]),
            error=str(row[ERROR]),
            seconds=float(row[SECONDS]),
            pixels=int(row[PIXELS]),
        )


def mask_name(image_name: str, fmt: MaskFormat) -> str:
    """The file name of an image's mask."""
    return f"{Path(image_name).stem}{SUFFIXES[fmt]}"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def measure(mask: np.ndarray, settings: BatchSettings, name: str) -> tuple[list[dict], list[dict]]:
    """Per-image rows (one, or one per class) and per-region records of a mask."""
    options: ScaleOptions = {"px_per_mm": settings.px_per_mm, "min_area": settings.min_area}
    classes = settings.classes
    rows = [
        {key: _plain(value) for key, value in row.items()}
        for row in measure_rows(
            mask, kinds=settings.kinds, classes=classes, traits=settings.traits, **options
        )
    ]
    records: list[dict[str, Any]] = []
    if REGIONS in settings.kinds:
        table = region_table(mask, file=name, traits=settings.traits, **options)
        table = named_regions(table, classes, multiclass=is_multiclass(mask, classes))
        records = json.loads(table.to_json(orient="records"))
    return rows, records


def process_image(
    models: Sequence[nn.Module],
    image: np.ndarray,
    name: str,
    settings: BatchSettings,
    *,
    device: DeviceInfo,
    dtype: torch.dtype | None,
    is_slice: bool = False,
) -> ImageResult:
    """Segment, encode and measure one decoded image (errors propagate).

    A slice's mask is encoded as a PNG of class indices (0/1 for binary), whatever the
    format: the driver puts it into its stack's TIFF.
    """
    started = time.perf_counter()
    mask, probability = segment(
        models,
        image,
        threshold=THRESHOLD if settings.threshold is None else settings.threshold,
        tile_size=settings.tile_size,
        tta=settings.tta,
        device=device,
        dtype=dtype,
    )
    if is_slice:
        encoded = encode_png(mask)
    else:
        encoded = encode_mask(
            mask,
            fmt=settings.fmt,
            probability=probability,
            classes=settings.classes,
            models=settings.models,
        )
    rows, records = measure(mask, settings, name) if settings.kinds else ([], [])
    return ImageResult(
        name=name,
        mask=encoded,
        rows=rows,
        regions=records,
        seconds=time.perf_counter() - started,
        pixels=int(mask.size),
    )


class Ensemble(NamedTuple):
    """Models on a device in eval mode, with what they segment with together."""

    models: list[nn.Module]
    tile: int | None  # None: chosen per image (cluster.inference.planning.ensemble_tile)
    classes: tuple[str, ...]
    threshold: float  # binary: the mean of the models' own thresholds


def load_ensemble(blobs: Sequence[bytes], device: DeviceInfo) -> Ensemble:
    """An ensemble from model files' bytes, on the device in eval mode."""
    snapshots = [model_from_bytes(blob) for blob in blobs]
    classes = ensemble_classes(snapshots, [f"model {n + 1}" for n in range(len(snapshots))])
    return Ensemble(
        [prepare_model(model_from_snapshot(s), device).eval() for s in snapshots],
        ensemble_tile([s.tile_size for s in snapshots]),
        classes,
        ensemble_threshold([s.metadata for s in snapshots]),
    )


def models_from_blobs(
    blobs: Sequence[bytes], device: DeviceInfo
) -> tuple[list[nn.Module], int | None]:
    """An ensemble, on the device in eval mode, from model files' bytes, and the tile
    side it segments with (None: chosen per image; see
    ``cluster.inference.planning.ensemble_tile``)."""
    ensemble = load_ensemble(blobs, device)
    return ensemble.models, ensemble.tile


class SegmentWorker:
    """A Ray Data actor: holds the ensemble, maps batches of images to masks and rows.

    Args:
        model_blobs: model files' bytes, or an ObjectRef to that list.
        settings: how to segment, encode and measure.
        threads: torch CPU threads (default: what the actor holds, ``OMP_NUM_THREADS``).
        in_ray_worker: log to the Ray worker's log file, a line per image started
            (:mod:`cluster.io.worker_log`); off where the worker runs in the driver.
    """

    def __init__(
        self,
        model_blobs: Any,
        settings: BatchSettings,
        threads: int | None = None,
        *,
        in_ray_worker: bool = False,
    ):
        if in_ray_worker:
            log_to_worker_file()
        if not isinstance(model_blobs, list | tuple):
            import ray

            model_blobs = ray.get(model_blobs)
        self.threads = set_cpu_threads(threads)
        self.device = pick_device()
        warn_if_gpu_absent(self.device, "segment worker")
        self.dtype = resolve_precision(self.device, settings.precision)
        ensemble = load_ensemble(model_blobs, self.device)
        self.models = ensemble.models
        if settings.tile_size is None:
            settings = replace(settings, tile_size=ensemble.tile)
        if not settings.classes:
            settings = replace(settings, classes=ensemble.classes)
        if settings.threshold is None:
            settings = replace(settings, threshold=ensemble.threshold)
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
            self.one(str(name), data, z=int(z), window=json.loads(str(window)))
            for name, data, z, window in zip(
                batch[NAME], batch[DATA], batch[Z], batch[WINDOW], strict=True
            )
        ]
        columns = [result.to_columns() for result in results]
        keys = columns[0] if columns else ImageResult(name="").to_columns()
        return {key: np.array([c[key] for c in columns], dtype=object) for key in keys}

    def one(
        self,
        name: str,
        data: Any,
        *,
        z: int = NOT_A_SLICE,
        window: Sequence[float] | None = None,
    ) -> ImageResult:
        """One image or slice ``z``, from its bytes or (shared storage, in-process) its
        path; never raises."""
        started = time.perf_counter()
        is_slice = z >= 0
        log.info("segmenting %s%s", name, f" slice {z}" if is_slice else "")
        try:
            image = self._decode(name, data, z, window)
            result = process_image(
                self.models,
                image,
                name,
                self.settings,
                device=self.device,
                dtype=self.dtype,
                is_slice=is_slice,
            )
            if self.settings.output_dir is not None and not is_slice:
                target = Path(self.settings.output_dir) / mask_name(name, self.settings.fmt)
                write_bytes_atomic(target, result.mask)
                result.mask = b""
            return result
        except ImageReadError as error:
            reason = slice_failure(error) if is_slice else error.reason
        except Exception as error:  # one bad image must never end the run
            log.exception("segmenting %s failed", name)
            reason = f"{type(error).__name__}: {error}"
        return ImageResult(name=name, error=reason, seconds=time.perf_counter() - started)

    def _decode(self, name: str, data: Any, z: int, window: Sequence[float] | None) -> np.ndarray:
        if isinstance(data, str) and z >= 0:
            low_high = (float(window[0]), float(window[1])) if window else None
            return read_stack_slice(data, z, window=low_high)
        if isinstance(data, str):
            return read_image(data)
        suffix = SLICE_SUFFIX if z >= 0 else ""
        path = Path(self._scratch.name) / (Path(name).name + suffix)
        path.write_bytes(bytes(data))
        try:
            return read_image(path)
        finally:
            path.unlink(missing_ok=True)
