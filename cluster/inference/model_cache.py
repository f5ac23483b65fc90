"""Model files loaded once and kept on the device for repeated segmentation."""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from torch import nn

from cluster.io.model_files import ModelFileError, load_model_file
from cluster.nn.devices import DeviceInfo, pick_device, prepare_model
from cluster.nn.snapshot import model_from_snapshot

log = logging.getLogger(__name__)


class ModelCache:
    """Model files loaded once and kept ready on the device, least recently used first out.

    A file is reloaded only when its modification time or size changes.
    """

    def __init__(self, device: DeviceInfo | None = None, *, max_models: int = 8) -> None:
        self.device = device or pick_device()
        self.max_models = max_models
        self.loads = 0  # files read from disk so far
        self._models: OrderedDict[Path, tuple[tuple[int, int], nn.Module, tuple[str, ...]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike[str]) -> nn.Module:
        """The model in a file, on the device in eval mode."""
        return self._get(path)[0]

    def classes(self, path: str | os.PathLike[str]) -> tuple[str, ...]:
        """The class names of the model in a file."""
        return self._get(path)[1]

    def _get(self, path: str | os.PathLike[str]) -> tuple[nn.Module, tuple[str, ...]]:
        path = Path(path).resolve()
        try:
            stat = path.stat()
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._models.get(path)
            if cached is not None and cached[0] == key:
                self._models.move_to_end(path)
                return cached[1], cached[2]
            model, classes = self._load(path)
            self._models[path] = (key, model, classes)
            self._models.move_to_end(path)
            while len(self._models) > self.max_models:
                self._models.popitem(last=False)
            return model, classes

    def get_many(self, paths: Sequence[str | os.PathLike[str]]) -> list[nn.Module]:
        """Models for an ensemble, in order; all must segment the same classes.

        Raises:
            ModelFileError: two models' class lists differ (their probabilities could
                not be averaged class by class).
        """
        loaded = [(Path(p), *self._get(p)) for p in paths]
        for path, _, classes in loaded[1:]:
            first, _, expected = loaded[0]
            if classes != expected:
                raise ModelFileError(
                    f"cannot ensemble {first.name} (classes {', '.join(expected)}) with "
                    f"{path.name} (classes {', '.join(classes)}): class lists differ"
                )
        return [model for _, model, _ in loaded]

    def __len__(self) -> int:
        return len(self._models)

    def _load(self, path: Path) -> tuple[nn.Module, tuple[str, ...]]:
        snapshot = load_model_file(path)
        self.loads += 1
        log.info("loaded model %s (version %d)", path.name, snapshot.version)
        model = prepare_model(model_from_snapshot(snapshot), self.device).eval()
        return model, snapshot.classes
