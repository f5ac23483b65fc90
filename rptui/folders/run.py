"""Segment a folder of images with an ensemble: on Ray (every worker) or in this process.

Stacks (multi-page TIFFs and folders of numbered slices) are segmented slice by slice
(progress counts slices) and written as one multi-page TIFF of label masks
``<stem>.tif``; a stack with a failed slice is listed (naming the slice) and not written.

Resumable (an output already written is skipped, and measured again from its file when
tables are asked for), atomic (each mask is written whole or not at all), and a file
that fails is listed with its error while the run goes on. Both paths do the same work
per image (:class:`cluster.batch.worker.SegmentWorker`), so they give the same masks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from pathlib import Path

import numpy as np

from cluster.batch.worker import BatchSettings, ImageResult, SegmentWorker, Unit
from cluster.io.atomic import write_bytes_atomic
from cluster.io.image_limits import opened_image
from cluster.io.mask_formats import MaskFormat, encode_label_stack
from cluster.io.model_files import ensemble_classes, load_model_file, model_to_bytes
from cluster.io.provenance import from_text, model_columns, record_models, to_text
from cluster.io.stacks import list_items
from cluster.measure.tables import DEFAULT_TRAITS, VoxelSize, volume_rows
from cluster.measure.traits import TraitSettings
from cluster.nn.devices import Precision
from rptui.folders.plan import (
    Plan,
    StackJob,
    is_stack,
    output_path,
    plan_run,
    read_existing_mask,
    stack_target,
)
from rptui.folders.report import FILE_COLUMN, FolderReport, add_rows

__all__ = [
    "FILE_COLUMN",
    "FolderReport",
    "StackJob",
    "is_stack",
    "model_blobs",
    "output_path",
    "read_existing_mask",
    "segment_folder",
    "stack_target",
]

log = logging.getLogger(__name__)

ImageProgress = Callable[[int, int, str, str], None]  # done, total, file name, error ('' if none)


def model_blobs(model_paths: Sequence[Path]) -> list[bytes]:
    """The ensemble's models in our file format (RootPainter files converted), checked here."""
    return [model_to_bytes(load_model_file(path)) for path in model_paths]


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
    traits: TraitSettings = DEFAULT_TRAITS,
    voxel_size: VoxelSize | None = None,
    use_ray: bool = False,
    shared_storage: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_progress: ImageProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_wait: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> FolderReport:
    """Segment every image and stack in ``source`` into ``output``, measuring ``kinds``
    (with ``traits``: pruning, diameter classes, angle window).

    With ``use_ray`` the images (and slices) go through a Ray Data actor pool on the
    connected cluster (:func:`cluster.batch.pipeline.segment_paths`); else they are done one by
    one here. ``progress(done, total)`` and ``on_progress(done, total, name, error)``
    follow each image or slice; ``should_stop()`` is asked after each one and ends the
    run early when true. ``on_wait(reason)`` hears why nothing has come back yet while
    Ray's workers wait or start. Stacks add volume rows (mm³ with ``voxel_size``, x, y, z
    in mm). Masks record the model files that made them; a mask made by other models is
    redone, and with ``overwrite`` every mask (see :func:`rptui.folders.plan.plan_run`).
    """
    started = time.perf_counter()
    items, not_items = list_items(source)
    report = FolderReport(failed=list(not_items))
    output.mkdir(parents=True, exist_ok=True)
    snapshots = [load_model_file(path) for path in model_paths]
    made_by = record_models(model_paths)
    settings = BatchSettings(
        fmt=fmt,
        tta=tta,
        precision=precision,
        kinds=tuple(kinds),
        px_per_mm=px_per_mm,
        min_area=min_area,
        traits=traits,
        classes=ensemble_classes(snapshots, [path.name for path in model_paths]),
        models=to_text(made_by),
    )
    blobs = [model_to_bytes(snapshot) for snapshot in snapshots]
    plan = plan_run(
        items, output, settings, report, voxel_size, models=made_by, overwrite=overwrite
    )

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
        if progress is not None:
            progress(plan.done, plan.total)
        results = _run(
            plan.units, blobs, settings, output, use_ray, shared_storage, workers, on_wait
        )
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


def _run(
    units: list[Unit],
    blobs: list[bytes],
    settings: BatchSettings,
    output: Path,
    use_ray: bool,
    shared_storage: bool,
    workers: int | None,
    on_wait: Callable[[str], None] | None,
) -> Generator[ImageResult, None, None]:
    if use_ray:
        from cluster.batch.pipeline import segment_paths

        yield from segment_paths(
            units,
            blobs,
            settings,
            shared_storage=shared_storage,
            output_dir=output,
            workers=workers,
            on_wait=on_wait,
        )
        return
    worker = SegmentWorker(blobs, settings)
    for unit in units:
        yield worker.one(unit.name, str(unit.path), z=unit.z, window=unit.window)


def _take(
    report: FolderReport,
    plan: Plan,
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
        add_rows(report, file, [], [], settings, error=result.error, slice_number=z + 1)
    else:
        with opened_image(result.mask, name=result.name) as image:
            job.masks[z] = np.asarray(image)
        report.pixels += result.pixels
        add_rows(
            report,
            file,
            result.rows,
            result.regions,
            settings,
            slice_number=z + 1,
            models=made_columns(settings),
        )
    if job.finished and not job.failures:
        masks = np.stack([job.masks[index] for index in range(job.depth)])
        stack_file = encode_label_stack(masks, classes=settings.classes, models=settings.models)
        write_bytes_atomic(job.target, stack_file)
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
        add_rows(report, result.name, [], [], settings, error=result.error)
        return
    target = output_path(output, path, settings.fmt)
    if not shared_storage:
        write_bytes_atomic(target, result.mask)
    report.written.append(target)
    report.pixels += result.pixels
    add_rows(
        report, result.name, result.rows, result.regions, settings, models=made_columns(settings)
    )


def made_columns(settings: BatchSettings) -> dict[str, str]:
    """The table columns naming the models of this run's masks."""
    return model_columns(from_text(settings.models))
