"""Statistics of values in groups (the pixels of each region, or of a whole image).

Groups are numbered 0..n-1, one number per value; every function returns one result
per group, empty groups included (0 for sums, NaN for means, medians, maxima, ratios).
"""

from __future__ import annotations

import numpy as np


def per_group(groups: int, group: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The number of values (or the sum of ``weights``) in each group, as float64."""
    return np.bincount(group, weights=weights, minlength=groups).astype(np.float64)


def ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """``top / bottom`` per group; NaN where ``bottom`` is not positive."""
    return np.divide(top, bottom, out=np.full(top.shape, np.nan), where=bottom > 0)


def medians_and_maxima(
    values: np.ndarray, group: np.ndarray, groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """The median and the largest of ``values`` in each group (NaN for an empty group),
    from one sort."""
    ordered = values[np.lexsort((values, group))]
    counts = np.bincount(group, minlength=groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    filled = counts > 0
    low = starts + np.maximum(counts - 1, 0) // 2
    high = starts + counts // 2
    medians = np.full(groups, np.nan)
    medians[filled] = 0.5 * (ordered[low[filled]] + ordered[high[filled]])
    maxima = np.full(groups, np.nan)
    maxima[filled] = ordered[(starts + counts - 1)[filled]]
    return medians, maxima
