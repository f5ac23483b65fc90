"""The nodes a :class:`~cluster.api.Placement` allows, and what they hold or have free.

The trainer, the segmenter and the batch workers are sized from the nodes they may run
on: with a placement resource, only the nodes that declare it (the head of a cluster
whose GPUs sit on other machines has CPUs but no GPUs to count). A placement that no
live node offers is refused in one line: Ray would keep the actors waiting for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from cluster.api import Placement
from cluster.head.connect import ConnectError

log = logging.getLogger(__name__)


def _live_nodes() -> list[Mapping[str, Any]]:
    import ray

    return [node for node in ray.nodes() if node["Alive"]]


def placement_nodes(placement: Placement) -> list[Mapping[str, Any]]:
    """The live nodes of the connected cluster that ``placement`` allows.

    Raises:
        ConnectError: the placement names a resource that no live node declares.
    """
    nodes = _live_nodes()
    if placement.resource is None:
        return nodes
    allowed = [node for node in nodes if node["Resources"].get(placement.resource, 0) > 0]
    if not allowed:
        raise ConnectError(
            f"no node of the Ray cluster offers the resource {placement.resource!r}: "
            f"start one with ray start --resources '{{\"{placement.resource}\": 1}}'"
        )
    return allowed


def largest_node(placement: Placement | None = None) -> tuple[float, float]:
    """(CPUs, GPUs) declared by the biggest live node that ``placement`` allows."""
    nodes = [node["Resources"] for node in placement_nodes(placement or Placement())]
    if not nodes:
        return 1.0, 0.0
    biggest = max(nodes, key=lambda r: (r.get("GPU", 0.0), r.get("CPU", 0.0)))
    return float(biggest.get("CPU", 1.0)), float(biggest.get("GPU", 0.0))


def free_resources(placement: Placement | None = None) -> dict[str, float]:
    """What is free now on the nodes ``placement`` allows (the whole cluster without one).

    GPUs count as declared by the nodes (``ray start --num-gpus``), whether or not torch
    can use them there.
    """
    import ray

    placement = placement or Placement()
    if placement.resource is None:
        return {key: float(value) for key, value in ray.available_resources().items()}
    from ray._private.state import available_resources_per_node

    allowed = {node["NodeID"] for node in placement_nodes(placement)}
    free: dict[str, float] = {}
    for node_id, resources in available_resources_per_node().items():
        if node_id in allowed:
            for key, value in resources.items():
                free[key] = free.get(key, 0.0) + float(value)
    return free
