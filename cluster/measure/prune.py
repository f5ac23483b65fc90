"""Pruning a skeleton: short side branches, the spurs a ragged mask edge grows, go.

A side branch is a path from a tip to a junction (a pixel with three or more
neighbours); it is removed, junction kept, when it is no longer than the limit (steps
of 1 and √2 along the m-adjacency graph of :mod:`cluster.measure.length`). A piece with
a tip at both ends is a root of its own and stays, however short. One pass: a branch
that becomes a tip's path only after another is removed stays.
"""

from __future__ import annotations

import numpy as np

from cluster.measure.length import DIRECTIONS, WALK_DIAGONAL, SkeletonGraph

NONE = -1


def _neighbour_table(graph: SkeletonGraph) -> tuple[np.ndarray, np.ndarray, int]:
    """Flat positions of the skeleton pixels (sorted) and each direction's flat offset."""
    stride = graph.shape[1] + 2
    flat = (graph.rows + 1) * stride + (graph.cols + 1)
    offsets = np.array([dr * stride + dc for dr, dc in DIRECTIONS], dtype=np.int64)
    return flat, offsets, stride


def short_branches(graph: SkeletonGraph, max_length: float) -> np.ndarray:
    """Indices (into the graph's pixels) of the pixels of side branches to prune."""
    if max_length <= 0:
        return np.zeros(0, dtype=np.int64)
    flat, offsets, _ = _neighbour_table(graph)
    steps = np.array([WALK_DIAGONAL if dr and dc else 1.0 for dr, dc in DIRECTIONS])
    walker = np.flatnonzero(graph.degree == 1)
    current = walker.copy()
    previous = np.full(walker.size, NONE)
    length = np.zeros(walker.size)
    paths: list[tuple[np.ndarray, np.ndarray]] = []  # (walker, pixel) pairs walked
    pruned: list[np.ndarray] = []
    while walker.size:
        paths.append((walker, current))
        links = graph.links[current]
        following = np.full(walker.size, NONE)
        step = np.zeros(walker.size)
        for bit, offset in enumerate(offsets):
            linked = (links >> bit) & 1 == 1
            target = np.searchsorted(flat, flat[current] + offset)
            target = np.minimum(target, flat.size - 1)
            take = linked & (following == NONE) & (target != previous)
            following = np.where(take, target, following)
            step = np.where(take, steps[bit], step)
        length += step
        previous, current = current, following
        moved = following != NONE
        within = moved & (length <= max_length)
        at_junction = within & (graph.degree[np.maximum(following, 0)] >= 3)
        pruned.append(walker[at_junction])
        going = within & ~at_junction & (graph.degree[np.maximum(following, 0)] == 2)
        walker, current, previous, length = (
            walker[going],
            current[going],
            previous[going],
            length[going],
        )
    done = np.concatenate(pruned) if pruned else np.zeros(0, dtype=np.int64)
    if not done.size:
        return done
    walked_by = np.concatenate([who for who, _ in paths])
    walked = np.concatenate([where for _, where in paths])
    return np.unique(walked[np.isin(walked_by, done)])


def pruned_skeleton(skeleton: np.ndarray, graph: SkeletonGraph, max_length: float) -> np.ndarray:
    """The skeleton without its side branches no longer than ``max_length`` px."""
    drop = short_branches(graph, max_length)
    if not drop.size:
        return skeleton
    kept = np.array(skeleton, dtype=bool, copy=True)
    kept[graph.rows[drop], graph.cols[drop]] = False
    return kept
