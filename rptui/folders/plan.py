"""Planning a folder run: what to segment, what is written already, where each mask goes.

A run is resumable: an output already written is skipped and, when tables are asked
for, measured again from its file. Stacks become one unit per slice, assembled in a
:class:`StackJob` as the slices come back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cluster.batch.worker import BatchSettings, Unit, mask_name, measure, slice_name
from cluster.io.images import ImageReadError
from cluster.io.mask_formats import STACK_SUFFIX, MaskFormat, read_label_stack
from cluster.io.stacks import stack_depth, stack_window
from cluster.measure.files import read_measurable_mask
from cluster.measure.tables import VoxelSize, volume_rows
from rptui.folders.report import FolderReport, add_rows

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


def plan_run(
    items: list[Path],
    output: Path,
    settings: BatchSettings,
    report: FolderReport,
    voxel_size: VoxelSize | None,
) -> Plan:
    """Units for what is not yet written; what is written is measured from its file."""
    plan = Plan()
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
                add_rows(report, path.name, [], [], settings, error=error.reason)
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


def _measure_existing(
    report: FolderReport, name: str, mask_path: Path, settings: BatchSettings
) -> None:
    try:
        mask = read_existing_mask(mask_path)
    except (ImageReadError, OSError, ValueError, KeyError) as error:
        reason = f"cannot measure existing mask: {getattr(error, 'reason', error)}"
        add_rows(report, name, [], [], settings, error=reason)
        return
    rows, regions = measure(mask, settings, name)
    add_rows(report, name, rows, regions, settings)


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
        add_rows(report, path.name, [], [], settings, error=f"cannot read existing mask: {error}")
        return
    report.volume_rows.extend(
        volume_rows(masks, stack=path.name, classes=settings.classes, voxel_size=voxel_size)
    )
    if settings.kinds:
        for z, mask in enumerate(masks):
            rows, regions = measure(mask, settings, path.name)
            add_rows(report, path.name, rows, regions, settings, slice_number=z + 1)
