"""Segment many images on every Ray worker at once, through a Ray Data actor pool.

The driver owns the disk: by default it reads each image file and sends its encoded
bytes (smaller than decoded pixels) through the object store, and the masks come back
as encoded bytes for the driver to write. With ``shared_storage`` every node is assumed
to see the same paths: workers read the images and write the masks themselves.

A stack goes slice by slice (:class:`cluster.batch.worker.Unit`): the driver sends each
slice as a PNG of its 8-bit pixels (mapped with the stack's one intensity window), or
with shared storage the workers read the slice from the stack themselves; slice masks
always come back to the driver, which writes the stack's TIFF.

Images are sent in chunks (bounded in bytes), so a folder larger than the object store
streams through it. Each chunk is one Ray Data run with an actor pool of
:class:`cluster.batch.worker.SegmentWorker`: one per GPU, or on CPUs one per
``threads_per_worker`` cores, never asking for more than is free
(:mod:`cluster.batch.worker_shape`); until results come, the caller hears why they
have not (:mod:`cluster.batch.waiting`). A file that fails comes back as a result with
its error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cluster.api import Placement
from cluster.batch.waiting import OnWait, wait_notice
from cluster.batch.worker import (
    DATA,
    NAME,
    WINDOW,
    BatchSettings,
    ImageResult,
    SegmentWorker,
    Unit,
    Z,
    slice_failure,
)
from cluster.batch.worker_shape import WorkerShape, worker_shape
from cluster.head.placement import free_resources
from cluster.io.image_limits import ImageReadError
from cluster.io.images import encode_png
from cluster.io.stacks import read_stack_slice

log = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024**2  # encoded image bytes in the object store per Ray Data run
CHUNK_IMAGES = 512
RAY_DATA_LOGGER = "ray.data"
RAY_DATA_PROGRESS_LOGGER = "ray.data._internal.progress"  # warns that its bars are off


def quiet_ray_data() -> None:
    """Keep Ray Data's own progress bars and stats off the terminal (we draw our own)."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_operator_progress_bars = False
    context.enable_auto_log_stats = False
    context.verbose_stats_logs = False
    logging.getLogger(RAY_DATA_LOGGER).setLevel(logging.WARNING)
    logging.getLogger(RAY_DATA_PROGRESS_LOGGER).setLevel(logging.ERROR)


def plan_chunks(
    sizes: Sequence[int], *, max_bytes: int = CHUNK_BYTES, max_items: int = CHUNK_IMAGES
) -> list[range]:
    """Consecutive index ranges of at most ``max_bytes`` (one item at least) and ``max_items``."""
    chunks: list[range] = []
    start, total = 0, 0
    for index, size in enumerate(sizes):
        full = index - start >= max_items or (index > start and total + size > max_bytes)
        if full:
            chunks.append(range(start, index))
            start, total = index, 0
        total += size
    if start < len(sizes):
        chunks.append(range(start, len(sizes)))
    return chunks


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _row(unit: Unit, data: Any) -> dict[str, Any]:
    return {NAME: unit.name, DATA: data, Z: unit.z, WINDOW: json.dumps(unit.window)}


def _items(
    units: Sequence[Unit], *, shared_storage: bool
) -> Iterator[dict[str, Any] | ImageResult]:
    """The rows to send for ``units``: name and bytes (or path); unreadable ones as results."""
    for unit in units:
        if shared_storage:
            yield _row(unit, str(unit.path.resolve()))
            continue
        try:
            if unit.is_slice:
                pixels = read_stack_slice(unit.path, unit.z, window=unit.window)
                yield _row(unit, encode_png(pixels))
            else:
                yield _row(unit, unit.path.read_bytes())
        except ImageReadError as error:
            reason = slice_failure(error) if unit.is_slice else error.reason
            yield ImageResult(name=unit.name, error=reason)
        except OSError as error:
            yield ImageResult(name=unit.name, error=f"cannot read file: {error.strerror or error}")


def _unit_size(unit: Unit, depths: dict[Path, int]) -> int:
    """Bytes a unit is expected to put in the object store (a page's share of a TIFF)."""
    size = _file_size(unit.path) if unit.path.is_file() else 0
    return size // max(1, depths.get(unit.path, 1)) if unit.is_slice and size else size


def segment_paths(
    paths: Sequence[Path | Unit],
    model_blobs: Sequence[bytes],
    settings: BatchSettings,
    *,
    shared_storage: bool = False,
    output_dir: Path | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    on_wait: OnWait | None = None,
    placement: Placement | None = None,
) -> Iterator[ImageResult]:
    """Segment image files (or slices of stacks) on the connected Ray cluster, yielding
    results as they finish.

    Args:
        paths: image files on the driver's disk (or, with ``shared_storage``, on a disk
            every node sees at the same path), or :class:`Unit` s (images and slices).
        model_blobs: the ensemble's model files' bytes.
        settings: how to segment, encode and measure.
        shared_storage: workers read the images and write masks into ``output_dir``
            (slice masks still come back: the driver writes each stack's TIFF).
        output_dir: where workers write masks (required with ``shared_storage``).
        workers, threads_per_worker: the actor pool (default: see :func:`worker_shape`).
        chunk_bytes: encoded image bytes per Ray Data run.
        on_wait: told why, in one line, while a run has brought no result yet (every
            :data:`cluster.batch.waiting.WAIT_NOTICE_S` seconds).
        placement: the nodes the workers may run on (default: ``RPTUI_WORKER_RESOURCE``);
            the pool is sized to what is free on them (one worker per declared GPU).

    Yields:
        One :class:`ImageResult` per path or unit (named by its ``name``), in completion
        order. Masks travel back in ``result.mask`` unless written by a worker.
    """
    import ray

    if not model_blobs:
        raise ValueError("segment_paths needs at least one model")
    if shared_storage:
        if output_dir is None:
            raise ValueError("shared storage needs output_dir for the workers to write into")
        settings = replace(settings, output_dir=str(Path(output_dir).resolve()))
    units = [item if isinstance(item, Unit) else Unit(item.name, item) for item in paths]
    quiet_ray_data()
    # What is free now: a trainer may hold some CPUs or a GPU, and a pool asking for
    # them would wait for it to stop.
    placement = placement or Placement.from_environment()
    shape = worker_shape(
        free_resources(placement), workers=workers, threads_per_worker=threads_per_worker
    )
    log.info("batch: %d images or slices on %s", len(units), shape)
    blobs_ref = ray.put(list(model_blobs))
    depths: dict[Path, int] = {}
    for unit in units:
        if unit.is_slice:
            depths[unit.path] = depths.get(unit.path, 0) + 1
    sizes = [0 if shared_storage else _unit_size(unit, depths) for unit in units]
    for chunk in plan_chunks(sizes, max_bytes=chunk_bytes):
        rows: list[dict[str, Any]] = []
        for item in _items([units[i] for i in chunk], shared_storage=shared_storage):
            if isinstance(item, ImageResult):
                yield item
            else:
                rows.append(item)
        if rows:
            yield from _run_chunk(rows, blobs_ref, settings, shape, on_wait, placement)


def _run_chunk(
    rows: list[dict[str, Any]],
    blobs_ref: Any,
    settings: BatchSettings,
    shape: WorkerShape,
    on_wait: OnWait | None,
    placement: Placement,
) -> Iterator[ImageResult]:
    """One Ray Data run over ``rows``; if the pipeline itself fails, the rest get its error."""
    import ray.data

    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    mapped = dataset.map_batches(
        SegmentWorker,
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(shape.workers, len(rows))),
        fn_constructor_kwargs={
            "model_blobs": blobs_ref,
            "settings": settings,
            "threads": shape.threads,
            "in_ray_worker": True,
        },
        num_cpus=shape.num_cpus,
        num_gpus=shape.num_gpus,
        resources=placement.actor_resources(),
    )
    done: set[str] = set()
    try:
        with wait_notice(shape, on_wait) as arrived:
            for row in mapped.iter_rows():
                arrived()
                result = ImageResult.from_columns(row)
                done.add(result.name)
                yield result
    except Exception as error:  # an actor died or the run broke: report, do not abort
        log.exception("batch pipeline failed")
        reason = f"batch pipeline failed: {type(error).__name__}: {error}"
        for row in rows:
            if row[NAME] not in done:
                yield ImageResult(name=str(row[NAME]), error=reason)
