"""How many batch workers, and what each asks Ray for: sized to what is free now.

A pool that asks for more than is free waits for it, and on a small machine the
project's trainer and segmenter hold most of the CPUs: the pool never asks for more.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_CPU_THREADS = 4  # torch threads per CPU worker when the worker count is not given
GPU_WORKER_CPUS = 1.0
SHARE_STEPS = 100  # a worker's share of a CPU or GPU is rounded down to hundredths


@dataclass(frozen=True)
class WorkerShape:
    """How many segmenting actors, and what each one holds."""

    workers: int
    num_cpus: float
    num_gpus: float

    @property
    def threads(self) -> int:
        """Torch CPU threads for each worker."""
        return max(1, int(self.num_cpus))


def worker_shape(
    resources: Mapping[str, float],
    *,
    workers: int | None = None,
    threads_per_worker: int | None = None,
) -> WorkerShape:
    """The actor pool for a cluster with ``resources`` free (as ``ray.available_resources()``).

    One worker per free GPU (one on the free share of a GPU); else
    ``max(1, cpus // threads_per_worker)`` CPU workers. An explicit ``workers`` is
    honoured up to what the cluster can hold. The pool never asks for more than is
    free, so it always starts: with less than one CPU free (a small machine whose
    trainer and segmenter hold the rest) one worker takes what is free, and with none
    free it shares the CPUs that others hold.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    free = max(0.0, float(resources.get("CPU", 0.0)))
    free_gpus = max(0.0, float(resources.get("GPU", 0.0)))
    if free_gpus >= 1:
        count = min(workers or int(free_gpus), int(free_gpus))
        return WorkerShape(count, _share(min(GPU_WORKER_CPUS, free / count)), 1.0)
    if free_gpus > 0:  # the share of a GPU the project's actors leave free
        return WorkerShape(1, _share(min(GPU_WORKER_CPUS, free)), _share(free_gpus))
    if free < 1:
        log.info("batch: %g CPU free, one worker takes it", free)
        return WorkerShape(1, _share(free), 0.0)
    cpus = int(free)
    if workers is None:
        threads = min(threads_per_worker or DEFAULT_CPU_THREADS, cpus)
        return WorkerShape(max(1, cpus // threads), float(threads), 0.0)
    threads = threads_per_worker or max(1, cpus // workers)
    fits = max(1, cpus // threads)
    if workers > fits:
        log.warning(
            "%d workers of %d threads do not fit in %d CPUs; using %d", workers, threads, cpus, fits
        )
    return WorkerShape(min(workers, fits), float(threads), 0.0)


def _share(amount: float) -> float:
    """A resource amount rounded down to hundredths (Ray keeps four decimals)."""
    return math.floor(amount * SHARE_STEPS) / SHARE_STEPS
