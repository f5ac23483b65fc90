"""GPUs a node declares that torch cannot use: run on the CPU and say so, never crash.

``ray start --num-gpus N`` declares GPUs whether or not they exist (or whether this
torch build can drive them). Ray then hands an actor a GPU id and sets
``CUDA_VISIBLE_DEVICES``; torch finds no CUDA device and the work runs on the CPU, much
slower than the user expects. :func:`absent_gpu_note` names that case in one line,
which the actors log as a warning and the trainer shows as its device.
"""

from __future__ import annotations

import logging

from cluster.nn.devices import DeviceInfo

log = logging.getLogger(__name__)


def ray_gpu_ids() -> list[str]:
    """The GPU ids Ray gave this actor or task ([] outside Ray, or when it holds none)."""
    try:
        import ray

        if not ray.is_initialized():
            return []
        return [str(gpu) for gpu in ray.get_gpu_ids()]
    except Exception:  # outside a worker, or an old Ray: nothing was declared to us
        return []


def absent_gpu_note(device: DeviceInfo, gpu_ids: list[str] | None = None) -> str | None:
    """One line when Ray gave this process GPUs that torch cannot use; None otherwise."""
    ids = ray_gpu_ids() if gpu_ids is None else gpu_ids
    if not ids or device.kind == "cuda":
        return None
    return (
        f"the node declares GPU {', '.join(ids)} but torch finds no CUDA device here: "
        f"running on {device.kind} (check the node's drivers or its ray start --num-gpus)"
    )


def warn_if_gpu_absent(device: DeviceInfo, what: str) -> str | None:
    """Log :func:`absent_gpu_note` as a warning naming ``what`` runs; return the note."""
    note = absent_gpu_note(device)
    if note is not None:
        log.warning("%s: %s", what, note)
    return note
