"""The traits measured, their column names and units, and what each one means.

Every per-image (and per-region) trait has a stem and a dimension; its column name is
the stem with the unit: ``length_px`` and, when pixels per mm are known, ``length_mm``
too; areas ``_px2``/``_mm2``, volumes ``_px3``/``_mm3``, frequencies ``_per_px``/
``_per_mm``. Counts, fractions, ratios and angles carry their unit in the stem.
Diameter classes add ``<column>_diameter_<from>_to_<to>`` columns (``..._over_<t>`` for
the last), with the thresholds and the column in mm when pixels per mm are known.
``docs/traits.md`` gives the formulas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

PX = "px"
MM = "mm"
SHALLOW_MAX_DEG = 30.0  # shallow: at most 30° from the horizontal
STEEP_MIN_DEG = 60.0  # steep: more than 60°; medium in between
MAX_DIAMETER_CLASSES = 10  # thresholds at most
CLASS_TRAITS = ("length", "projected_area", "surface_area", "root_volume")
Values = dict[str, np.ndarray]  # trait stem (``stem#class`` per diameter class) -> values


@dataclass(frozen=True)
class Trait:
    """One measured trait: its column stem, its dimension in length units, its kind."""

    stem: str
    dimension: int  # 0 no unit, 1 length, 2 area, 3 volume, -1 per length
    kind: str  # the measurement kind that reports it
    definition: str


TRAITS: tuple[Trait, ...] = (
    Trait("skeleton_pixels", 0, "length", "pixels of the skeleton (RootPainter's length)"),
    Trait(
        "length",
        1,
        "length",
        "skeleton length, orientation-fair: 0.980 per axis step, 1.406 per diagonal step, "
        "-0.091 per corner (Vossepoel-Smeulders)",
    ),
    Trait("length_walk", 1, "length", "skeleton length with steps of 1 and sqrt(2) (RhizoVision)"),
    Trait("count", 0, "count", "8-connected regions"),
    Trait("tips", 0, "tips", "skeleton pixels with one neighbour"),
    Trait("branch_points", 0, "tips", "junctions: touching skeleton pixels with 3+ neighbours"),
    Trait("branching_frequency", -1, "tips", "branch points per length"),
    Trait("diameter_mean", 1, "diameter", "mean over skeleton pixels of the width across"),
    Trait("diameter_median", 1, "diameter", "median over skeleton pixels of the width across"),
    Trait("diameter_max", 1, "diameter", "largest width across at a skeleton pixel"),
    Trait("projected_area", 2, "diameter", "sum over the skeleton of diameter x length"),
    Trait("surface_area", 2, "diameter", "sum over the skeleton of pi x diameter x length"),
    Trait("root_volume", 3, "diameter", "sum over the skeleton of pi x diameter^2 / 4 x length"),
    Trait("angle_mean_deg", 0, "angles", "length-weighted mean angle from the horizontal, 0-90"),
    Trait("angle_shallow_fraction", 0, "angles", "share of length at <= 30 deg from horizontal"),
    Trait("angle_medium_fraction", 0, "angles", "share of length at 30-60 deg from horizontal"),
    Trait("angle_steep_fraction", 0, "angles", "share of length at > 60 deg from horizontal"),
    Trait("network_area", 2, "shape", "foreground pixels"),
    Trait("convex_area", 2, "shape", "area of the convex hull of the foreground"),
    Trait("solidity", 0, "shape", "network area / convex area"),
    Trait("width", 1, "shape", "horizontal extent of the foreground"),
    Trait("depth", 1, "shape", "vertical extent of the foreground (down the image)"),
    Trait("width_depth_ratio", 0, "shape", "width / depth"),
)
TRAIT_BY_STEM = {trait.stem: trait for trait in TRAITS}
WHOLE_NUMBERS = ("skeleton_pixels", "count", "tips", "branch_points")


def column(stem: str, unit: str) -> str:
    """The column name of a trait in a unit (``px`` or ``mm``)."""
    dimension = TRAIT_BY_STEM[stem].dimension
    if dimension == 0:
        return stem
    if dimension < 0:
        return f"{stem}_per_{unit}"
    return f"{stem}_{unit}" + (str(dimension) if dimension > 1 else "")


def _number(value: float) -> str:
    return f"{value:g}"


def class_suffixes(thresholds: Sequence[float]) -> list[str]:
    """Column suffixes of the diameter classes cut at ``thresholds`` (ascending)."""
    bounds = [0.0, *thresholds]
    ranges = [f"_diameter_{_number(lo)}_to_{_number(hi)}" for lo, hi in pairwise(bounds)]
    return [*ranges, f"_diameter_over_{_number(bounds[-1])}"]


def check_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    """Diameter class thresholds: 1 to 10 positive, strictly rising numbers; ValueError."""
    values = tuple(float(value) for value in thresholds)
    if len(values) > MAX_DIAMETER_CLASSES:
        raise ValueError(f"at most {MAX_DIAMETER_CLASSES} diameter class thresholds")
    if any(not 0 < value < float("inf") for value in values):
        raise ValueError("diameter class thresholds must be positive numbers")
    if any(high <= low for low, high in pairwise(values)):
        raise ValueError("diameter class thresholds must rise: e.g. 0.5,1,2")
    return values


def trait_columns(
    kinds: Sequence[str], *, px_per_mm: float | None = None, thresholds: Sequence[float] = ()
) -> list[str]:
    """The trait columns the ``kinds`` give, in table order (px, then mm when known)."""
    units = (PX, MM) if px_per_mm else (PX,)
    names: list[str] = []
    for trait in TRAITS:
        if trait.kind in kinds:
            names += [column(trait.stem, unit) for unit in units[: 1 + (trait.dimension != 0)]]
    if "diameter" in kinds and thresholds:
        unit = units[-1]
        for stem in CLASS_TRAITS:
            names += [column(stem, unit) + suffix for suffix in class_suffixes(thresholds)]
    return names


def trait_lines() -> list[str]:
    """One line per trait for ``rptui measure --list-traits``: columns, kind, definition."""
    lines = []
    for trait in TRAITS:
        names = column(trait.stem, PX)
        if trait.dimension:
            names += f", {column(trait.stem, MM)}"
        lines.append(f"{names}  [{trait.kind}]  {trait.definition}")
    example = column("length", MM) + class_suffixes((0.5,))[0]
    lines.append(
        f"{', '.join(CLASS_TRAITS)} per diameter class (--diameter-classes), e.g. {example}"
    )
    return lines


def in_units(
    values: Values, *, px_per_mm: float | None = None, thresholds: Sequence[float] = ()
) -> Values:
    """Trait values (px) as named columns: px, and mm too when ``px_per_mm`` is given.

    Diameter class values (``<stem>#<class>``) become one column each, in mm when
    ``px_per_mm`` is given, else in px, named after their thresholds.
    """
    suffixes = class_suffixes(thresholds) if thresholds else []
    columns: dict[str, np.ndarray] = {}
    for key, value in values.items():
        stem, _, index = key.partition("#")
        dimension = TRAIT_BY_STEM[stem].dimension
        if index:
            unit = MM if px_per_mm else PX
            scaled = value / px_per_mm**dimension if px_per_mm else value
            columns[column(stem, unit) + suffixes[int(index)]] = scaled
            continue
        columns[column(stem, PX)] = value
        if px_per_mm and dimension:
            columns[column(stem, MM)] = value / px_per_mm**dimension
    return columns
