"""Segment a folder of images with an ensemble: on Ray (every worker) or in this process.

Stacks (multi-page TIFFs and folders of numbered slices) are segmented slice by slice
(progress counts slices) and written as one multi-page TIFF of label masks
``<stem>.tif``; a stack with a failed slice is listed (naming the slice) and not written.

Resumable (an output already written is skipped, and measured again from its file when
tables are asked for), atomic (each mask is written whole or not at all), and a file
that fails is listed with its error while the run goes on. Both paths do the same work
per image (:class:`cluster.batch_worker.SegmentWorker`), so they give the same masks.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from cluster.atomic import write_bytes_atomic
from cluster.batch_worker import (
    BatchSettings,
    ImageResult,
    SegmentWorker,
    Unit,
    mask_name,
    measure,
    slice_name,
)
from cluster.devices import Precision
from cluster.images import ImageReadError
from cluster.mask_formats import (
    STACK_SUFFIX,
    MaskFormat,
    encode_label_stack,
    read_label_stack,
)
from cluster.measure import (
    COUNT_COLUMNS,
    ERROR_COLUMN,
    REGIONS,
    SLICE_COLUMN,
    VoxelSize,
    volume_rows,
)
from cluster.measure_files import read_measurable_mask, volume_table
from cluster.modelfile import load_model_file, model_to_bytes
from cluster.stacks import list_items, stack_depth, stack_window

log = logging.getLogger(__name__)

FILE_COLUMN = "file"
NPZ_MASK = "mask"
ImageProgress = Callable[[int, int, str, str], None]  # done, total, file name, error ('' if none)
Row = dict[str, Any]


@dataclass
class StackJob:
    """A stack being segmented: its slice masks as they come in."""

    path: Path
    depth: int
    target: Path
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    failures: int = 0

    @property
    def finished(self) -> bool:
        """Whether every slice has come back (or failed)."""
        return len(self.masks) + self.failures == self.depth


@dataclass
class FolderReport:
    """What a folder run did, with its measurement rows."""

    written: list[Path] = field(default_factory=list)
    skipped_existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    region_rows: list[dict[str, Any]] = field(default_factory=list)
    volume_rows: list[dict[str, Any]] = field(default_factory=list)  # per class per stack
    pixels: int = 0  # pixels segmented in this run
    seconds: float = 0.0
    cancelled: bool = False  # stopped by ``should_stop`` before every image was done

    def image_table(self) -> pd.DataFrame:
        """One row per image: file, measurements, error ('' when it went well)."""
        return _table(self.rows)

    def region_table(self) -> pd.DataFrame:
        """One row per region (and one per failed image, with its error)."""
        return _table(self.region_rows)

    def volume_table(self) -> pd.DataFrame:
        """Voxels (and mm³) per class per stack written or found."""
        return volume_table(self.volume_rows)

    def summary(self, tables: Sequence[Path] = ()) -> dict[str, Any]:
        """What the run did, as plain JSON data (without the measurement rows)."""
        return {
            "written": [str(path) for path in self.written],
            "skipped_existing": [str(path) for path in self.skipped_existing],
            "failed": [[str(path), reason] for path, reason in self.failed],
            "pixels": self.pixels,
            "seconds": self.seconds,
            "cancelled": self.cancelled,
            "tables": [str(path) for path in tables],
        }

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> tuple[FolderReport, list[Path]]:
        """A report (without rows) and its table paths, read back from :meth:`summary`."""
        report = cls(
            written=[Path(path) for path in summary["written"]],
            skipped_existing=[Path(path) for path in summary["skipped_existing"]],
            failed=[(Path(path), str(reason)) for path, reason in summary["failed"]],
            pixels=int(summary["pixels"]),
            seconds=float(summary["seconds"]),
            cancelled=bool(summary.get("cancelled", False)),
        )
        return report, [Path(path) for path in summary["tables"]]


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=[FILE_COLUMN, ERROR_COLUMN])
    table = pd.DataFrame(rows)
    table[ERROR_COLUMN] = table[ERROR_COLUMN].fillna("")
    for name in COUNT_COLUMNS:
        if name in table.columns:
            table[name] = table[name].astype("Int64")
    columns = [FILE_COLUMN, *(c for c in table.columns if c not in (FILE_COLUMN, ERROR_COLUMN))]
    table = table[[*columns, ERROR_COLUMN]]
    keys = [FILE_COLUMN, SLICE_COLUMN] if SLICE_COLUMN in table.columns else [FILE_COLUMN]
    return table.sort_values(keys, kind="stable", ignore_index=True)


def output_path(output: Path, image: Path, fmt: MaskFormat) -> Path:
    """Where the mask of ``image`` goes."""
    return output / mask_name(image.name, fmt)


def model_blobs(model_paths: Sequence[Path]) -> list[bytes]:
    """The ensemble's models in our file format (RootPainter files converted), checked here."""
    return [model_to_bytes(load_model_file(path)) for path in model_paths]


def read_existing_mask(path: Path) -> np.ndarray:
    """A mask written by an earlier run, in any of our formats, as HxW 0..K."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            return np.asarray(arrays[NPZ_MASK])
    return read_measurable_mask(path)


def is_stack(path: Path) -> bool:
    """Whether a dataset item is a stack: a slice folder or a TIFF of several pages."""
    return path.is_dir() or (path.suffix.lower() in (".tif", ".tiff") and stack_depth(path) > 1)


def stack_target(output: Path, item: Path) -> Path:
    """Where a stack's mask TIFF goes: ``<stem>.tif`` (a folder's stem is its name)."""
    stem = item.name if item.is_dir() else item.stem
    return output / f"{stem}{STACK_SUFFIX}"


@dataclass
class _Plan:
    """The work of a run: units to segment, stacks being assembled, progress so far."""

    units: list[Unit] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)  # unit name -> plain image
    slices: dict[str, tuple[StackJob, int]] = field(default_factory=dict)  # name -> (stack, z)
    skipped: list[tuple[str, int]] = field(default_factory=list)  # written before: name, depth
    total: int = 0
    done: int = 0


def segment_folder(
    source: Path,
    output: Path,
    model_paths: Sequence[Path],
    *,
    fmt: MaskFormat = "png",
    tta: bool = True,
    precision: Precision = "auto",
    kinds: Sequence[str] = (),
    px_per_mm: float | None = None,
    min_area: int = 0,
    voxel_size: VoxelSize | None = None,
    use_ray: bool = False,
    shared_storage: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_progress: ImageProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FolderReport:
    """Segment every image and stack in ``source`` into ``output``, measuring ``kinds``.

    With ``use_ray`` the images (and slices) go through a Ray Data actor pool on the
    connected cluster (:func:`cluster.batch.segment_paths`); else they are done one by
    one here. ``progress(done, total)`` and ``on_progress(done, total, name, error)``
    follow each image or slice; ``should_stop()`` is asked after each one and ends the
    run early when true. Stacks add volume rows (mm³ with ``voxel_size``, x, y, z in mm).
    """
    started = time.perf_counter()
    items, not_items = list_items(source)
    report = FolderReport(failed=list(not_items))
    output.mkdir(parents=True, exist_ok=True)
    snapshots = [load_model_file(path) for path in model_paths]
    settings = BatchSettings(
        fmt=fmt,
        tta=tta,
        precision=precision,
        kinds=tuple(kinds),
        px_per_mm=px_per_mm,
        min_area=min_area,
        classes=snapshots[0].classes if snapshots else (),
    )
    blobs = [model_to_bytes(snapshot) for snapshot in snapshots]
    plan = _plan(items, output, settings, report, voxel_size)

    def step(name: str, error: str, count: int = 1) -> None:
        plan.done += count
        if progress is not None:
            progress(plan.done, plan.total)
        if on_progress is not None:
            on_progress(plan.done, plan.total, name, error)

    for name, depth in plan.skipped:
        step(name, "", depth)
    if plan.units and should_stop is not None and should_stop():
        report.cancelled = True
    elif plan.units:
        log.info("segmenting %d images or slices (%d done before)", len(plan.units), plan.done)
        results = _run(plan.units, blobs, settings, output, use_ray, shared_storage, workers)
        with closing(results):
            for result in results:
                _take(report, plan, result, output, settings, shared_storage, voxel_size)
                step(result.name, result.error)
                if should_stop is not None and should_stop() and plan.done < plan.total:
                    report.cancelled = True
                    break
    elif progress is not None:
        progress(plan.done, plan.total)
    report.seconds = time.perf_counter() - started
    return report


def _plan(
    items: list[Path],
    output: Path,
    settings: BatchSettings,
    report: FolderReport,
    voxel_size: VoxelSize | None,
) -> _Plan:
    """Units for what is not yet written; what is written is measured from its file."""
    plan = _Plan()
    targets: set[Path] = set()
    for path in items:
        try:
            stack = is_stack(path)
            depth = stack_depth(path) if stack else 1
        except ImageReadError as error:
            if not path.is_dir():  # segmented as one image: its failure is a table row
                stack, depth = False, 1
            else:
                report.failed.append((path, error.reason))
                _add_rows(report, path.name, [], [], settings, error=error.reason)
                continue
        target = stack_target(output, path) if stack else output_path(output, path, settings.fmt)
        if stack and target in targets:
            report.failed.append((path, f"another stack is also written to {target.name}"))
            continue
        targets.add(target)
        plan.total += depth
        if target.exists():
            report.skipped_existing.append(target)
            if stack:
                _existing_stack(report, path, target, settings, voxel_size)
            elif settings.kinds:
                _measure_existing(report, path.name, target, settings)
            plan.skipped.append((path.name, depth))
        elif stack:
            job = StackJob(path, depth, target)
            window = _window(path)
            stem = target.stem
            for z in range(depth):
                unit = Unit(slice_name(stem, z), path, z, window)
                plan.units.append(unit)
                plan.slices[unit.name] = (job, z)
        else:
            plan.units.append(Unit(path.name, path))
            plan.images[path.name] = path
    return plan


def _window(path: Path) -> tuple[float, float] | None:
    """The stack's one intensity window (None: 8-bit, or unreadable sample slices)."""
    try:
        return stack_window(path)
    except ImageReadError as error:
        log.warning("no window for %s (%s); each slice uses its own", path, error.reason)
        return None


def _run(
    units: list[Unit],
    blobs: list[bytes],
    settings: BatchSettings,
    output: Path,
    use_ray: bool,
    shared_storage: bool,
    workers: int | None,
) -> Generator[ImageResult, None, None]:
    if use_ray:
        from cluster.batch import segment_paths

        yield from segment_paths(
            units,
            blobs,
            settings,
            shared_storage=shared_storage,
            output_dir=output,
            workers=workers,
        )
        return
    worker = SegmentWorker(blobs, settings)
    for unit in units:
        yield worker.one(unit.name, str(unit.path), z=unit.z, window=unit.window)


def _take(
    report: FolderReport,
    plan: _Plan,
    result: ImageResult,
    output: Path,
    settings: BatchSettings,
    shared_storage: bool,
    voxel_size: VoxelSize | None,
) -> None:
    """Keep one result: an image's mask written, or a slice's mask kept for its stack."""
    if result.name in plan.images:
        _record(report, plan.images[result.name], result, output, settings, shared_storage)
        return
    job, z = plan.slices[result.name]
    file = job.path.name
    if result.error:
        job.failures += 1
        report.failed.append((job.path, f"slice {z + 1}: {result.error}"))
        _add_rows(report, file, [], [], settings, error=result.error, slice_number=z + 1)
    else:
        job.masks[z] = np.asarray(Image.open(io.BytesIO(result.mask)))
        report.pixels += result.pixels
        _add_rows(report, file, result.rows, result.regions, settings, slice_number=z + 1)
    if job.finished and not job.failures:
        masks = np.stack([job.masks[index] for index in range(job.depth)])
        write_bytes_atomic(job.target, encode_label_stack(masks, classes=settings.classes))
        report.written.append(job.target)
        report.volume_rows.extend(
            volume_rows(masks, stack=file, classes=settings.classes, voxel_size=voxel_size)
        )
    if job.finished:
        job.masks.clear()


def _record(
    report: FolderReport,
    path: Path,
    result: ImageResult,
    output: Path,
    settings: BatchSettings,
    shared_storage: bool,
) -> None:
    """Write a result's mask (unless a worker did) and keep its rows."""
    if result.error:
        report.failed.append((path, result.error))
        _add_rows(report, result.name, [], [], settings, error=result.error)
        return
    target = output_path(output, path, settings.fmt)
    if not shared_storage:
        write_bytes_atomic(target, result.mask)
    report.written.append(target)
    report.pixels += result.pixels
    _add_rows(report, result.name, result.rows, result.regions, settings)


def _measure_existing(
    report: FolderReport, name: str, mask_path: Path, settings: BatchSettings
) -> None:
    try:
        mask = read_existing_mask(mask_path)
    except (ImageReadError, OSError, ValueError, KeyError) as error:
        reason = f"cannot measure existing mask: {getattr(error, 'reason', error)}"
        _add_rows(report, name, [], [], settings, error=reason)
        return
    rows, regions = measure(mask, settings, name)
    _add_rows(report, name, rows, regions, settings)


def _existing_stack(
    report: FolderReport,
    path: Path,
    target: Path,
    settings: BatchSettings,
    voxel_size: VoxelSize | None,
) -> None:
    """Measure a stack's mask TIFF written by an earlier run, and count its voxels."""
    try:
        masks, _ = read_label_stack(target)
    except ValueError as error:
        _add_rows(report, path.name, [], [], settings, error=f"cannot read existing mask: {error}")
        return
    report.volume_rows.extend(
        volume_rows(masks, stack=path.name, classes=settings.classes, voxel_size=voxel_size)
    )
    if settings.kinds:
        for z, mask in enumerate(masks):
            rows, regions = measure(mask, settings, path.name)
            _add_rows(report, path.name, rows, regions, settings, slice_number=z + 1)


def _add_rows(
    report: FolderReport,
    name: str,
    rows: list[Row],
    regions: list[Row],
    settings: BatchSettings,
    *,
    error: str = "",
    slice_number: int | None = None,
) -> None:
    where: Row = {FILE_COLUMN: name}
    if slice_number is not None:
        where[SLICE_COLUMN] = slice_number
    if set(settings.kinds) - {REGIONS} or not settings.kinds:
        if error or not rows:
            report.rows.append({**where, ERROR_COLUMN: error})
        report.rows.extend({**where, **row, ERROR_COLUMN: ""} for row in rows if not error)
    if REGIONS in settings.kinds:
        if error:
            report.region_rows.append({**where, ERROR_COLUMN: error})
        report.region_rows.extend(
            {**where, **region, **where, ERROR_COLUMN: ""} for region in regions
        )
