"""Measuring mask files: one image, a label stack, or a whole folder, into tables.

Reads our masks (0/255, label PNGs of classes, multi-page label TIFFs of stacks),
RootPainter's RGBA segmentations and RhizoVision's black-on-white masks, and measures
them with :mod:`cluster.measure.tables`; a file that cannot be read is a row with its error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cluster.io.image_limits import ImageReadError, opened_image
from cluster.io.images import TIFF_SUFFIXES, page_count, read_mask
from cluster.io.mask_formats import class_values, read_label_stack, recorded_classes
from cluster.measure.regions import region_table
from cluster.measure.stack_totals import stack_totals
from cluster.measure.tables import (
    CLASS_COLUMN,
    COUNT_COLUMNS,
    DEFAULT_TRAITS,
    ERROR_COLUMN,
    FILE_COLUMN,
    IMAGE_KINDS,
    REGIONS,
    SLICE_COLUMN,
    STACK_COLUMN,
    VOLUME_COLUMNS,
    Progress,
    Row,
    ScaleOptions,
    VoxelSize,
    check_kinds,
    is_multiclass,
    measure_rows,
    measure_stack,
    named_regions,
    volume_rows,
)
from cluster.measure.traits import TraitSettings

logger = logging.getLogger(__name__)

LABEL_MODES = frozenset({"L", "I", "I;16", "I;16B", "I;16L"})
GREY_LEVELS_SHOWN = 5


def is_stack_file(path: Path) -> bool:
    """Whether a mask file is a stack: a TIFF of more than one page."""
    if path.suffix.lower() not in TIFF_SUFFIXES:
        return False
    try:
        return page_count(path) > 1
    except ImageReadError:
        return False


def read_measurable_mask(path: Path | str, *, labels: bool = False) -> np.ndarray:
    """Read a mask file for measuring: HxW uint8, 0 background, 1..K classes.

    Our masks (0/255, or a 0..K label image of classes), RootPainter's RGBA
    segmentations and RhizoVision's black-on-white masks are all read. Our own masks
    name their classes in the file and are read as they are, however much of the image
    is foreground (an unmarked mostly-white mask is read as RhizoVision's). Any other
    single-channel 8-bit image is read as labels only with ``labels`` (the user named
    its classes); else it is foreground where not zero, with a warning when it holds
    several grey levels (a grey 0/100/200 mask is not 200 classes).
    """
    if recorded_classes(path):
        with opened_image(path) as image:
            return class_values(np.asarray(image))
    binary = read_mask(path, kind="auto")
    try:
        with opened_image(path) as image:
            if image.mode != "L":
                return binary
            values = np.asarray(image)
    except (ImageReadError, OSError, ValueError):  # read by another decoder: no grey levels
        return binary
    top = int(values.max(initial=0))
    if not 1 < top < np.iinfo(np.uint8).max or not np.array_equal(values > 0, binary > 0):
        return binary
    if labels:
        return values.astype(np.uint8, copy=False)
    levels = np.unique(values[values > 0])
    if len(levels) > 1:
        shown = ", ".join(str(int(level)) for level in levels[:GREY_LEVELS_SHOWN])
        logger.warning(
            "%s: grey levels %s%s in a mask that names no classes: measured as foreground "
            "where not 0 (name its classes, e.g. --classes, to read them as labels)",
            path,
            shown,
            " ..." if len(levels) > GREY_LEVELS_SHOWN else "",
        )
    return binary


def read_object_labels(path: Path | str) -> np.ndarray:
    """Read a label image with one value per object (8 or 16 bit, single channel)."""
    try:
        with opened_image(path) as image:
            if image.mode in LABEL_MODES:
                return np.array(image)
    except (ImageReadError, OSError, ValueError):
        pass
    return read_measurable_mask(path, labels=True)


def measure_file(
    path: Path | str,
    *,
    kinds: Sequence[str] = IMAGE_KINDS,
    px_per_mm: float | None = None,
    min_area: int = 0,
    objects: bool = False,
    classes: Sequence[str] = (),
    volumes: list[Row] | None = None,
    voxel_size: VoxelSize | None = None,
    traits: TraitSettings = DEFAULT_TRAITS,
) -> pd.DataFrame:
    """Measure one mask file: one row (per-image kinds) or one row per region.

    ``objects`` reads the file as a label image of objects (one value each) for
    ``regions``, measured for their geometry only (no root traits). A multi-class mask
    gets rows per class, a TIFF stack rows per slice (and its volume rows appended to
    ``volumes``); ``classes`` names the classes of files that record no names; ``traits``
    says how the root traits are measured. A file that cannot be read gives one row with
    its ``error``.
    """
    path = Path(path)
    kinds = check_kinds(kinds)
    options: ScaleOptions = {"px_per_mm": px_per_mm, "min_area": min_area}
    try:
        if is_stack_file(path):
            masks, recorded = read_label_stack(path)
            names = recorded or tuple(classes)
            if volumes is not None:
                volumes.extend(
                    volume_rows(masks, stack=path.name, classes=names, voxel_size=voxel_size)
                )
            table = measure_stack(
                masks, file=path.name, kinds=kinds, classes=names, traits=traits, **options
            )
            table[ERROR_COLUMN] = ""
            return table
        objects = objects and REGIONS in kinds
        labels = bool(classes)
        mask = read_object_labels(path) if objects else read_measurable_mask(path, labels=labels)
    except (ImageReadError, OSError, ValueError, MemoryError) as error:
        reason = getattr(error, "reason", None) or str(error)
        logger.info("cannot measure %s: %s", path, reason)
        return pd.DataFrame([{"file": path.name, ERROR_COLUMN: reason}])
    names = () if objects else recorded_classes(path) or tuple(classes)
    multiclass = not objects and is_multiclass(mask, names)
    if REGIONS in kinds:
        measured = None if objects else traits
        table = region_table(mask, file=path.name, objects=objects, traits=measured, **options)
        table = named_regions(table, names, multiclass=multiclass)
        table[ERROR_COLUMN] = ""
        return table
    classes = names if multiclass else ()
    rows = measure_rows(mask, kinds=kinds, classes=classes, traits=traits, **options)
    return pd.DataFrame([{"file": path.name, **row, ERROR_COLUMN: ""} for row in rows])


def measure_files(
    paths: Sequence[Path],
    *,
    kinds: Sequence[str] = IMAGE_KINDS,
    px_per_mm: float | None = None,
    min_area: int = 0,
    objects: bool = False,
    progress: Progress | None = None,
    classes: Sequence[str] = (),
    volumes: list[Row] | None = None,
    voxel_size: VoxelSize | None = None,
    traits: TraitSettings = DEFAULT_TRAITS,
) -> pd.DataFrame:
    """Measure mask files into one table; bad files get a row with their error.

    Stacks add their volume rows to ``volumes`` (see :func:`measure_file`).
    """
    kinds = check_kinds(kinds)
    frames = []
    for done, path in enumerate(paths, start=1):
        frame = measure_file(
            path,
            kinds=kinds,
            px_per_mm=px_per_mm,
            min_area=min_area,
            objects=objects,
            classes=classes,
            volumes=volumes,
            voxel_size=voxel_size,
            traits=traits,
        )
        frames.append(frame)
        if progress is not None:
            progress(done, len(paths))
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame(columns=["file", ERROR_COLUMN])
    table = pd.concat(frames, ignore_index=True)
    table[ERROR_COLUMN] = table[ERROR_COLUMN].fillna("")
    for name in COUNT_COLUMNS:
        if name in table.columns:
            table[name] = table[name].astype("Int64")
    columns = [name for name in table.columns if name != ERROR_COLUMN]
    return table[[*columns, ERROR_COLUMN]]


def volume_table(rows: Sequence[Row], per_slice: pd.DataFrame | None = None) -> pd.DataFrame:
    """The volume rows of stacks as a table (columns :data:`VOLUME_COLUMNS`), and, given
    the per-slice table, each stack's summed traits beside them (see
    :func:`cluster.measure.stack_totals.stack_totals`)."""
    table = pd.DataFrame(list(rows))
    columns = [name for name in VOLUME_COLUMNS if name in table.columns or name != "volume_mm3"]
    table = table.reindex(columns=columns)
    if per_slice is None or table.empty:
        return table
    totals = stack_totals(
        per_slice,
        file_column=FILE_COLUMN,
        slice_column=SLICE_COLUMN,
        class_column=CLASS_COLUMN,
        error_column=ERROR_COLUMN,
    )
    if totals.empty:
        return table
    totals = totals.rename(columns={FILE_COLUMN: STACK_COLUMN})
    totals[CLASS_COLUMN] = totals[CLASS_COLUMN].astype(np.int64)
    table[CLASS_COLUMN] = table[CLASS_COLUMN].astype(np.int64)
    return table.merge(totals, on=[STACK_COLUMN, CLASS_COLUMN], how="left")
