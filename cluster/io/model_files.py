"""Model files: ours (weights + JSON metadata) and RootPainter's (a bare state dict).

Every file is read with ``torch.load(weights_only=True)``: tensors and plain
containers only, never an arbitrary pickled object, so a file carrying a payload is
refused without running it.

The network's head is one softmax over K outputs, so a file's output width is its class
count: RootPainter's files (2 outputs) are binary, a bare K-output file gets the names
``background, class1, ..., class{K-1}``; our files carry the class names in metadata.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from cluster.api import ModelSnapshot
from cluster.io.atomic import write_bytes_atomic
from cluster.io.model_metadata import SOURCE_FILE
from cluster.io.model_names import parse_model_name
from cluster.nn.model import DEFAULT_TILE, strip_parallel_prefix
from cluster.nn.snapshot import model_from_state_dict, output_channels

log = logging.getLogger(__name__)

FORMAT = "rptui-model"
FORMAT_VERSION = 1
OUTPUT_KEY = "conv_out.0.weight"
DEFAULT_CLASSES = ("background", "foreground")
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_UNPICKLER = re.compile(r"WeightsUnpickler error:\s*(\S.*)")


class ModelFileError(Exception):
    """A model file that cannot be used; the message names the file and the reason."""


def _payload(snapshot: ModelSnapshot) -> dict[str, Any]:
    metadata = {
        "version": snapshot.version,
        "f1": snapshot.f1,
        "parent": snapshot.parent,
        "classes": list(snapshot.classes),
        "tile_size": snapshot.tile_size,
        "created": snapshot.created,
        "extra": dict(snapshot.metadata),
    }
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in snapshot.state_dict.items()}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": json.dumps(metadata),
        "state_dict": state,
    }


def model_to_bytes(snapshot: ModelSnapshot) -> bytes:
    """Our file format, in memory."""
    buffer = io.BytesIO()
    torch.save(_payload(snapshot), buffer)
    return buffer.getvalue()


def save_model(target: str | os.PathLike[str] | IO[bytes], snapshot: ModelSnapshot) -> None:
    """Write a snapshot in our format; a path is written atomically (temp, fsync, rename)."""
    if not isinstance(target, str | os.PathLike):
        torch.save(_payload(snapshot), target)
        return
    write_bytes_atomic(Path(target), model_to_bytes(snapshot))


def model_from_bytes(data: bytes, *, name: str = "<bytes>") -> ModelSnapshot:
    """Read a model (ours or RootPainter's) from bytes."""
    return _read(io.BytesIO(data), name=name, created=time.time())


def load_model_file(path: str | os.PathLike[str]) -> ModelSnapshot:
    """Read a model file, ours or RootPainter's, checking it fits the U-Net."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return _read(io.BytesIO(data), name=str(path), created=path.stat().st_mtime)


def recorded_metadata(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What our model file records beside its weights (``f1``, ``version``, ``extra``:
    see ``_payload``), read without loading the weights (they are memory-mapped, not
    read); None for RootPainter's file or one that cannot be read
    (:func:`load_model_file` says why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            content = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        if not isinstance(content, Mapping) or content.get("format") != FORMAT:
            return None
        metadata = json.loads(content["metadata"])
        return metadata if isinstance(metadata, dict) else None
    except Exception as exc:  # torch raises many types for bad files; this reader only looks
        log.info("no metadata read from %s: %s", path, exc)
        return None


def recorded_f1(path: str | os.PathLike[str]) -> float | None:
    """The validation F1 our model file records, read as :func:`recorded_metadata`; None
    for a file that records none, RootPainter's, or one that cannot be read."""
    f1 = (recorded_metadata(path) or {}).get("f1")
    try:
        return None if f1 is None else float(f1)
    except (TypeError, ValueError):
        return None


def ensemble_classes(snapshots: Sequence[ModelSnapshot], names: Sequence[str]) -> tuple[str, ...]:
    """The class names an ensemble segments; every model must segment the same ones.

    Raises:
        ModelFileError: two models' class lists differ (their probabilities could not be
            averaged class by class); ``names`` name the models in the message.
    """
    if not snapshots:
        return ()
    expected = snapshots[0].classes
    for name, snapshot in zip(names[1:], snapshots[1:], strict=True):
        if snapshot.classes != expected:
            raise ModelFileError(
                f"cannot ensemble {names[0]} (classes {', '.join(expected)}) with "
                f"{name} (classes {', '.join(snapshot.classes)}): class lists differ"
            )
    return expected


def _read(stream: IO[bytes], *, name: str, created: float) -> ModelSnapshot:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's notes on pickle protocols
            content = torch.load(stream, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad or unsafe files
        raise ModelFileError(f"{name}: {_load_failure(exc)}") from exc
    if not isinstance(content, Mapping):
        raise ModelFileError(f"{name}: expected a dict of tensors, found {type(content).__name__}")
    if content.get("format") == FORMAT:
        return _ours(content, name=name)
    return _rootpainter(content, name=name, created=created)


def _load_failure(exc: Exception) -> str:
    """Why torch's safe loader gave up, in one line without its advice to load unsafely."""
    text = str(exc)
    found = _GLOBAL.search(text)
    if found:
        return f"refused: it holds a Python object ({found.group(1)}), not only tensors"
    found = _UNPICKLER.search(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = found.group(1) if found else lines[0] if lines else type(exc).__name__
    if isinstance(exc, KeyError) or detail.strip().isdigit():  # the old loader's byte code
        return "not a model file: neither a PyTorch archive nor a pickle of weights"
    return f"not a readable model file ({detail.strip().split('. ')[0]})"


def _ours(content: Mapping[str, Any], *, name: str) -> ModelSnapshot:
    version = content.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{name}: unsupported format version {version!r}")
    try:
        meta = json.loads(content["metadata"])
        state = content["state_dict"]
        snapshot = ModelSnapshot(
            version=int(meta["version"]),
            state_dict=_to_numpy(state, name=name),
            created=float(meta["created"]),
            f1=None if meta.get("f1") is None else float(meta["f1"]),
            parent=meta.get("parent"),
            classes=tuple(meta.get("classes") or _default_classes(state)),
            tile_size=int(meta.get("tile_size") or DEFAULT_TILE),
            metadata={str(k): str(v) for k, v in (meta.get("extra") or {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{name}: damaged metadata ({exc})") from exc
    _check_architecture(snapshot, name=name)
    return snapshot


def _rootpainter(content: Mapping[str, Any], *, name: str, created: float) -> ModelSnapshot:
    state = _to_numpy(strip_parallel_prefix(dict(content)), name=name)
    parsed = parse_model_name(name)
    version, stamp = parsed if parsed else (1, created)
    n_out = _outputs(state)
    classes = DEFAULT_CLASSES if n_out == 2 else unnamed_classes(n_out)
    snapshot = ModelSnapshot(
        version=version,
        state_dict=state,
        created=float(stamp),
        classes=classes,
        tile_size=DEFAULT_TILE,
        metadata={"source": "rootpainter", SOURCE_FILE: Path(name).name},
    )
    _check_architecture(snapshot, name=name)
    return snapshot


def _default_classes(state: Any) -> tuple[str, ...]:
    """Class names for a file without any: by its output width."""
    out = state.get(OUTPUT_KEY) if isinstance(state, Mapping) else None
    count = int(out.shape[0]) if out is not None else 2
    return DEFAULT_CLASSES if count == 2 else unnamed_classes(count)


def unnamed_classes(count: int) -> tuple[str, ...]:
    """Names for a file's ``count`` classes when it carries none: background, class1, ..."""
    return (DEFAULT_CLASSES[0], *(f"class{i}" for i in range(1, count)))


def _outputs(state: Mapping[str, np.ndarray]) -> int:
    """The head's output width (2 when the output layer is missing; the check says so)."""
    out = state.get(OUTPUT_KEY)
    return int(out.shape[0]) if out is not None else 2


def _to_numpy(state: Any, *, name: str) -> dict[str, np.ndarray]:
    if not isinstance(state, Mapping) or not state:
        raise ModelFileError(f"{name}: no weights found")
    arrays = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelFileError(f"{name}: entry {key!r} is not a named tensor")
        arrays[key] = value.detach().to(torch.float32).numpy().copy()
    return arrays


def _check_architecture(snapshot: ModelSnapshot, *, name: str) -> None:
    """Refuse weights whose names or shapes do not fit the U-Net, or its class list."""
    n_out = _outputs(snapshot.state_dict)
    if n_out != output_channels(snapshot.classes):
        raise ModelFileError(
            f"{name}: {len(snapshot.classes)} classes ({', '.join(snapshot.classes)}) "
            f"but the network has {n_out} outputs"
        )
    try:
        model_from_state_dict(snapshot.state_dict, out_channels=n_out)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = "; ".join(lines[1:4]) if len(lines) > 1 else lines[0] if lines else ""
        raise ModelFileError(f"{name}: weights do not fit the U-Net: {detail}") from exc
