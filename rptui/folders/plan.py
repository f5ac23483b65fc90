"""Planning a folder run: what to segment, what is written already, where each mask goes.

A run is resumable: an output already written by the same models is skipped and, when
tables are asked for, measured again from its file; one written by other models is
redone (:mod:`cluster.io.provenance`). Items whose masks would be one file are refused
by name. Stacks become one unit per slice, assembled in a :class:`StackJob` as the
slices come back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cluster.batch.worker import BatchSettings, Unit, mask_name, measure
from cluster.io.image_limits import ImageReadError
from cluster.io.mask_formats import STACK_SUFFIX, MaskFormat, read_label_stack, recorded_models
from cluster.io.provenance import Provenance, model_columns, same_models
from cluster.io.stacks import StackShapeError, slice_name, stack_depth, stack_window
from cluster.measure.files import read_measurable_mask
from cluster.measure.tables import VoxelSize, volume_rows
from rptui.folders.report import FolderReport, Row, add_rows

log = logging.getLogger(__name__)

NPZ_MASK = "mask"


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


def output_path(output: Path, image: Path, fmt: MaskFormat) -> Path:
    """Where the mask of ``image`` goes."""
    return output / mask_name(image.name, fmt)


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
class Plan:
    """The work of a run: units to segment, stacks being assembled, progress so far."""

    units: list[Unit] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)  # unit name -> plain image
    slices: dict[str, tuple[StackJob, int]] = field(default_factory=dict)  # name -> (stack, z)
    skipped: list[tuple[str, int]] = field(default_factory=list)  # written before: name, depth
    total: int = 0
    done: int = 0


@dataclass(frozen=True)
class Target:
    """Where one item's mask goes, and whether the item is a stack (of ``depth`` slices)."""

    path: Path
    stack: bool
    depth: int


def _targets(
    items: list[Path], output: Path, settings: BatchSettings, report: FolderReport
) -> dict[Path, Target]:
    """Each item's mask file; items that cannot be planned, or whose masks would land on
    the same file (``a.png`` and ``a.jpg``), are failures named in the report."""
    targets: dict[Path, Target] = {}
    for path in items:
        try:
            stack = is_stack(path)
            depth = stack_depth(path) if stack else 1
        except ImageReadError as error:
            if path.is_dir() or isinstance(error, StackShapeError):
                _fail(report, path, error.reason, settings)
                continue
            stack, depth = False, 1  # segmented as one image: its failure is a table row
        mask = stack_target(output, path) if stack else output_path(output, path, settings.fmt)
        targets[path] = Target(mask, stack, depth)
    by_file: dict[str, list[Path]] = {}
    for path, target in targets.items():  # case folded: some file systems ignore case
        by_file.setdefault(target.path.name.lower(), []).append(path)
    for paths in by_file.values():
        for path in paths if len(paths) > 1 else ():
            others = ", ".join(other.name for other in paths if other != path)
            reason = (
                f"its mask would be {targets.pop(path).path.name}, as the mask of {others}: "
                "rename one of them"
            )
            _fail(report, path, reason, settings)
    return targets


def _fail(report: FolderReport, path: Path, reason: str, settings: BatchSettings) -> None:
    report.failed.append((path, reason))
    add_rows(report, path.name, [], [], settings, error=reason)


def _keep_existing(
    target: Path, report: FolderReport, models: Provenance, overwrite: bool
) -> Provenance | None:
    """Whether to keep a mask written before: the models that made it when they are this
    run's, () when it records none (kept too); None to redo it."""
    if overwrite:
        report.replaced.append(target)
        return None
    recorded = recorded_models(target)
    if recorded is None:
        report.kept_unknown.append(target)
        return ()
    if not same_models(recorded, models):
        report.replaced.append(target)
        return None
    report.skipped_existing.append(target)
    return recorded


def plan_run(
    items: list[Path],
    output: Path,
    settings: BatchSettings,
    report: FolderReport,
    voxel_size: VoxelSize | None,
    *,
    models: Provenance = (),
    overwrite: bool = False,
) -> Plan:
    """Units for what is not yet written by ``models``; what is kept is measured from its
    file. A mask made by other models is redone, one with no record of its models kept
    (made elsewhere), and with ``overwrite`` every mask is redone."""
    plan = Plan()
    for path, target in _targets(items, output, settings, report).items():
        plan.total += target.depth
        kept = None
        if target.path.exists():
            kept = _keep_existing(target.path, report, models, overwrite)
        if kept is not None:
            made = model_columns(kept)
            if target.stack:
                _existing_stack(report, path, target.path, settings, voxel_size, made)
            elif settings.kinds:
                _measure_existing(report, path.name, target.path, settings, made)
            plan.skipped.append((path.name, target.depth))
        elif target.stack:
            job = StackJob(path, target.depth, target.path)
            window = _window(path)
            stem = target.path.stem
            for z in range(target.depth):
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


def _measure_existing(
    report: FolderReport, name: str, mask_path: Path, settings: BatchSettings, made: Row
) -> None:
    try:
        mask = read_existing_mask(mask_path)
    except (ImageReadError, OSError, ValueError, KeyError) as error:
        reason = f"cannot measure existing mask: {getattr(error, 'reason', error)}"
        add_rows(report, name, [], [], settings, error=reason)
        return
    rows, regions = measure(mask, settings, name)
    add_rows(report, name, rows, regions, settings, models=made)


def _existing_stack(
    report: FolderReport,
    path: Path,
    target: Path,
    settings: BatchSettings,
    voxel_size: VoxelSize | None,
    made: Row,
) -> None:
    """Measure a stack's mask TIFF written by an earlier run, and count its voxels."""
    try:
        masks, _ = read_label_stack(target)
    except ValueError as error:
        add_rows(report, path.name, [], [], settings, error=f"cannot read existing mask: {error}")
        return
    report.volume_rows.extend(
        volume_rows(masks, stack=path.name, classes=settings.classes, voxel_size=voxel_size)
    )
    if settings.kinds:
        for z, mask in enumerate(masks):
            rows, regions = measure(mask, settings, path.name)
            add_rows(report, path.name, rows, regions, settings, slice_number=z + 1, models=made)
