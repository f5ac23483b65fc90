"""Segment a folder of images with an ensemble: on Ray (every worker) or in this process.

Resumable (an output already written is skipped, and measured again from its file when
tables are asked for), atomic (each mask is written whole or not at all), and a file
that fails is listed with its error while the run goes on. Both paths do the same work
per image (:class:`cluster.batch_worker.SegmentWorker`), so they give the same masks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cluster.atomic import write_bytes_atomic
from cluster.batch_worker import BatchSettings, ImageResult, SegmentWorker, mask_name, measure
from cluster.devices import Precision
from cluster.images import ImageReadError, list_images
from cluster.mask_formats import MaskFormat
from cluster.measure import COUNT_COLUMNS, ERROR_COLUMN, REGIONS, read_measurable_mask
from cluster.modelfile import load_model_file, model_to_bytes

log = logging.getLogger(__name__)

FILE_COLUMN = "file"
NPZ_MASK = "mask"
ImageProgress = Callable[[int, int, str, str], None]  # done, total, file name, error ('' if none)


@dataclass
class FolderReport:
    """What a folder run did, with its measurement rows."""

    written: list[Path] = field(default_factory=list)
    skipped_existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    region_rows: list[dict[str, Any]] = field(default_factory=list)
    pixels: int = 0  # pixels segmented in this run
    seconds: float = 0.0
    cancelled: bool = False  # stopped by ``should_stop`` before every image was done

    def image_table(self) -> pd.DataFrame:
        """One row per image: file, measurements, error ('' when it went well)."""
        return _table(self.rows)

    def region_table(self) -> pd.DataFrame:
        """One row per region (and one per failed image, with its error)."""
        return _table(self.region_rows)

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
    return table.sort_values(FILE_COLUMN, kind="stable", ignore_index=True)


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
    use_ray: bool = False,
    shared_storage: bool = False,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_progress: ImageProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FolderReport:
    """Segment every image in ``source`` into ``output``, measuring ``kinds`` as it goes.

    With ``use_ray`` the images go through a Ray Data actor pool on the connected
    cluster (:func:`cluster.batch.segment_paths`); else they are done one by one here.
    ``progress(done, total)`` and ``on_progress(done, total, name, error)`` follow each
    image; ``should_stop()`` is asked after each one and ends the run early when true.
    """
    started = time.perf_counter()
    images, not_images = list_images(source)
    report = FolderReport(failed=list(not_images))
    output.mkdir(parents=True, exist_ok=True)
    settings = BatchSettings(
        fmt=fmt,
        tta=tta,
        precision=precision,
        kinds=tuple(kinds),
        px_per_mm=px_per_mm,
        min_area=min_area,
    )
    blobs = model_blobs(model_paths)
    by_name = {path.name: path for path in images}
    pending: list[Path] = []
    done = 0
    for path in images:
        target = output_path(output, path, fmt)
        if not target.exists():
            pending.append(path)
            continue
        report.skipped_existing.append(target)
        if settings.kinds:
            _measure_existing(report, path.name, target, settings)
        done += 1
        if progress is not None:
            progress(done, len(images))
        if on_progress is not None:
            on_progress(done, len(images), path.name, "")
    if pending and should_stop is not None and should_stop():
        report.cancelled = True
    elif pending:
        log.info("segmenting %d images (%d already done)", len(pending), done)
        results = _run(pending, blobs, settings, output, use_ray, shared_storage, workers)
        with closing(results):
            for result in results:
                _record(report, by_name[result.name], result, output, settings, shared_storage)
                done += 1
                if progress is not None:
                    progress(done, len(images))
                if on_progress is not None:
                    on_progress(done, len(images), result.name, result.error)
                if should_stop is not None and should_stop() and done < len(images):
                    report.cancelled = True
                    break
    elif progress is not None:
        progress(done, len(images))
    report.seconds = time.perf_counter() - started
    return report


def _run(
    paths: list[Path],
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
            paths,
            blobs,
            settings,
            shared_storage=shared_storage,
            output_dir=output,
            workers=workers,
        )
        return
    worker = SegmentWorker(blobs, settings)
    for path in paths:
        yield worker.one(path.name, str(path))


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
        _add_rows(report, result.name, {}, [], settings, error=result.error)
        return
    target = output_path(output, path, settings.fmt)
    if not shared_storage:
        write_bytes_atomic(target, result.mask)
    report.written.append(target)
    report.pixels += result.pixels
    _add_rows(report, result.name, result.row, result.regions, settings)


def _measure_existing(
    report: FolderReport, name: str, mask_path: Path, settings: BatchSettings
) -> None:
    try:
        mask = read_existing_mask(mask_path)
    except (ImageReadError, OSError, ValueError, KeyError) as error:
        reason = f"cannot measure existing mask: {getattr(error, 'reason', error)}"
        _add_rows(report, name, {}, [], settings, error=reason)
        return
    row, regions = measure(mask, settings, name)
    _add_rows(report, name, row, regions, settings)


def _add_rows(
    report: FolderReport,
    name: str,
    row: dict[str, Any],
    regions: list[dict[str, Any]],
    settings: BatchSettings,
    *,
    error: str = "",
) -> None:
    if set(settings.kinds) - {REGIONS} or not settings.kinds:
        report.rows.append({FILE_COLUMN: name, **row, ERROR_COLUMN: error})
    if REGIONS in settings.kinds:
        if error:
            report.region_rows.append({FILE_COLUMN: name, ERROR_COLUMN: error})
        report.region_rows.extend({**region, ERROR_COLUMN: ""} for region in regions)
