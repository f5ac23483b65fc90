"""Convert between live torch models and :class:`cluster.api.ModelSnapshot` (plain data)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import torch

from cluster.api import ModelSnapshot
from cluster.nn.model import DEFAULT_TILE, UNetGNRes, strip_parallel_prefix


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare network inside a DataParallel or compiled wrapper."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    return model


def snapshot_from_model(
    model: torch.nn.Module,
    *,
    version: int,
    f1: float | None = None,
    parent: str | None = None,
    classes: tuple[str, ...] = ("background", "foreground"),
    tile_size: int = DEFAULT_TILE,
    metadata: dict[str, str] | None = None,
) -> ModelSnapshot:
    """Copy a model's weights into a snapshot (float32 numpy arrays on the CPU)."""
    state = {
        key: value.detach().to("cpu", torch.float32).numpy().copy()
        for key, value in unwrap(model).state_dict().items()
    }
    return ModelSnapshot(
        version=version,
        state_dict=state,
        created=time.time(),
        f1=f1,
        parent=parent,
        classes=classes,
        tile_size=tile_size,
        metadata=dict(metadata or {}),
    )


def output_channels(classes: tuple[str, ...]) -> int:
    """Network outputs for a class list: one softmax over K = len(classes) outputs.

    The labels are exclusive (one class per pixel), so one distribution whose argmax is
    the label mask fits them; K = 2 is RootPainter's two-channel head, so binary model
    files stay RootPainter-compatible.
    """
    return max(2, len(classes))


def model_from_state_dict(
    state_dict: Mapping[str, np.ndarray | torch.Tensor], *, out_channels: int = 2
) -> UNetGNRes:
    """Build a U-Net and load weights into it (strict: every key must match)."""
    tensors = {
        key: torch.as_tensor(np.array(value)) if isinstance(value, np.ndarray) else value
        for key, value in strip_parallel_prefix(dict(state_dict)).items()
    }
    model = UNetGNRes(out_channels=out_channels)
    model.load_state_dict(tensors, strict=True)
    return model


def model_from_snapshot(snapshot: ModelSnapshot) -> UNetGNRes:
    """A fresh CPU model holding a snapshot's weights."""
    return model_from_state_dict(
        snapshot.state_dict, out_channels=output_channels(snapshot.classes)
    )
