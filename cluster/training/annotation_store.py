"""The annotations a trainer holds: training ones in the tile sampler, validation ones aside.

Thread-safe: the app's calls may add, replace or remove annotations while an epoch runs.
Memory stays flat as annotations grow: arrays are kept as uint8 and, past a bound, the
oldest are spilled to local disk (see :mod:`cluster.training.spill`).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from cluster.api import AnnotatedImage
from cluster.nn.model import output_size
from cluster.training.accepted import training_labels, validation_labels
from cluster.training.sampler import TileSampler
from cluster.training.spill import DEFAULT_MEMORY_BOUND, SpillPool

VAL_PREFIX = "val/"  # validation keys in the pool shared with the sampler


def fingerprint(item: AnnotatedImage) -> bytes:
    """A digest of an annotation's pixels and split, to tell a changed one from a resend."""
    digest = hashlib.blake2b(digest_size=16)
    shown = () if item.shown is None else (item.shown,)
    for array in (item.image, item.labels, *shown):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(item.split.encode())
    return digest.digest()


class AnnotationStore:
    """Training annotations (as tiles to sample) and validation annotations, by name.

    Both kinds share one :class:`cluster.training.spill.SpillPool`: at most ``memory_bound`` bytes
    of annotation arrays stay in memory (default 512 MiB); past it the annotations added
    or changed longest ago are spilled to a folder under ``spill_dir`` (default: the
    system's temp folder) and read back memory-mapped. :meth:`close` deletes the folder.
    """

    def __init__(
        self,
        tile_size: int,
        *,
        memory_bound: int = DEFAULT_MEMORY_BOUND,
        spill_dir: Path | None = None,
        foreground_share: float = 0.0,
        accepted_background: float = 0.0,
    ) -> None:
        self.pool = SpillPool(memory_bound=memory_bound, directory=spill_dir)
        self._cell = output_size(tile_size) or tile_size  # one tile's output side
        self._accepted_background = accepted_background  # see accepted.training_labels
        self.sampler = TileSampler(tile_size, pool=self.pool, foreground_share=foreground_share)
        self._val: dict[str, None] = {}  # validation names, in the order they came
        self._fingerprints: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def set(self, item: AnnotatedImage) -> bool:
        """Add or replace an annotation (it may change split); True when new or changed."""
        digest = fingerprint(item)
        with self._lock:
            changed = self._fingerprints.get(item.name) != digest
            if item.split == "train":
                self._val.pop(item.name, None)
                self.pool.remove(VAL_PREFIX + item.name)
                taught = training_labels(
                    item.name,
                    item.labels,
                    item.shown,
                    cell=self._cell,
                    share=self._accepted_background,
                )
                self.sampler.set(item.name, item.image, taught)
            else:
                self.sampler.remove(item.name)
                self._val[item.name] = None
                image = np.array(item.image, dtype=np.uint8, order="C")
                scored = validation_labels(item.name, item.labels, item.shown, cell=self._cell)
                labels = np.array(scored, dtype=np.uint8, order="C")
                self.pool.put(VAL_PREFIX + item.name, (image, labels))
            self._fingerprints[item.name] = digest
        return changed

    def remove(self, name: str) -> None:
        """Forget an annotation (no error when it is not held)."""
        with self._lock:
            self.sampler.remove(name)
            self._val.pop(name, None)
            self.pool.remove(VAL_PREFIX + name)
            self._fingerprints.pop(name, None)

    @property
    def n_train(self) -> int:
        """Training annotations with at least one labelled pixel."""
        return len(self.sampler)

    @property
    def n_val(self) -> int:
        with self._lock:
            return len(self._val)

    @property
    def resident_bytes(self) -> int:
        """Bytes of annotation arrays held in memory (at most the memory bound)."""
        return self.pool.resident_bytes

    @property
    def memory_bound(self) -> int:
        return self.pool.memory_bound

    @memory_bound.setter
    def memory_bound(self, value: int) -> None:
        """A new bound, applied at once (a lower one spills now)."""
        self.pool.memory_bound = value

    def is_spilled(self, name: str) -> bool:
        """Whether the annotation's arrays are on local disk rather than in memory."""
        return self.sampler.is_spilled(name) or self.pool.is_spilled(VAL_PREFIX + name)

    def is_validation(self, name: str) -> bool:
        """Whether ``name`` is held as a validation annotation (no array is read)."""
        with self._lock:
            return name in self._val

    def validation_items(self) -> list[AnnotatedImage]:
        """The validation annotations now held (spilled ones as read-only memory maps),
        their labels as scored: a correction's include the accepted sample."""
        with self._lock:
            names = list(self._val)
            arrays = [self.pool.get(VAL_PREFIX + name) for name in names]
        return [
            AnnotatedImage(name, image, labels, "val")
            for name, (image, labels) in zip(names, arrays, strict=True)
        ]

    def close(self) -> None:
        """Forget every annotation and delete the spill folder."""
        with self._lock:
            self.sampler.close()
            self._val.clear()
            self._fingerprints.clear()
            self.pool.close()
