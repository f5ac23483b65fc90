"""Measuring a folder of masks into tables: what ``rptui measure`` and the measurements
screen both run, and the measurement names the screens may show."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cluster.io.images import list_images
from cluster.measure.catalogue import trait_lines
from cluster.measure.files import measure_files, volume_table
from cluster.measure.tables import (
    ALL_KINDS,
    DEFAULT_TRAITS,
    ERROR_COLUMN,
    EVERY_IMAGE_KIND,
    IMAGE_KINDS,
    REGIONS,
    VoxelSize,
    check_kinds,
)
from cluster.measure.traits import TraitSettings
from rptui.errors import UserError

__all__ = [
    "ALL_KINDS",
    "DEFAULT_TRAITS",
    "ERROR_COLUMN",
    "EVERY_IMAGE_KIND",
    "IMAGE_KINDS",
    "REGIONS",
    "MeasuredFolder",
    "TraitSettings",
    "chosen_kinds",
    "measure_folder",
    "trait_lines",
]

Progress = Callable[[int, int], None]


@dataclass
class MeasuredFolder:
    """What measuring a folder made: its table, and the stacks' volume table if any."""

    paths: list[Path]
    skipped: list[tuple[Path, str]]
    table: pd.DataFrame
    volumes: pd.DataFrame | None  # voxels and summed traits per class per stack

    @property
    def failed(self) -> pd.DataFrame:
        """The rows of files that could not be measured: file and error."""
        return self.table.loc[self.table[ERROR_COLUMN] != "", ["file", ERROR_COLUMN]]


def chosen_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """Measurement kinds as the user named them, checked; UserError saying what is wrong."""
    try:
        return check_kinds(kinds)
    except ValueError as error:
        raise UserError(str(error)) from error


def measure_folder(
    folder: Path,
    *,
    kinds: Sequence[str],
    px_per_mm: float | None = None,
    min_area: int = 0,
    objects: bool = False,
    classes: Sequence[str] = (),
    voxel_size: VoxelSize | None = None,
    traits: TraitSettings = DEFAULT_TRAITS,
    progress: Progress | None = None,
) -> MeasuredFolder:
    """Measure every mask in ``folder`` (see :func:`cluster.measure.files.measure_files`).

    Raises:
        UserError: the folder holds no mask images.
    """
    paths, skipped = list_images(folder)
    if not paths:
        raise UserError(f"no mask images in {folder}")
    volumes: list[dict] = []
    table = measure_files(
        paths,
        kinds=chosen_kinds(kinds),
        px_per_mm=px_per_mm,
        min_area=min_area,
        objects=objects,
        progress=progress,
        classes=classes,
        volumes=volumes,
        voxel_size=voxel_size,
        traits=traits,
    )
    stacks = volume_table(volumes, table) if volumes else None
    return MeasuredFolder(paths=paths, skipped=skipped, table=table, volumes=stacks)
