"""The annotations a trainer holds: training ones in the tile sampler, validation ones aside.

Thread-safe: the app's calls may add, replace or remove annotations while an epoch runs.
"""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from cluster.api import AnnotatedImage
from cluster.sampler import TileSampler


def fingerprint(item: AnnotatedImage) -> bytes:
    """A digest of an annotation's pixels and split, to tell a changed one from a resend."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (item.image, item.labels):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(item.split.encode())
    return digest.digest()


class AnnotationStore:
    """Training annotations (as tiles to sample) and validation annotations, by name."""

    def __init__(self, tile_size: int) -> None:
        self.sampler = TileSampler(tile_size)
        self._val: dict[str, AnnotatedImage] = {}
        self._fingerprints: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def set(self, item: AnnotatedImage) -> bool:
        """Add or replace an annotation (it may change split); True when new or changed."""
        digest = fingerprint(item)
        with self._lock:
            changed = self._fingerprints.get(item.name) != digest
            if item.split == "train":
                self._val.pop(item.name, None)
                self.sampler.set(item.name, item.image, item.labels)
            else:
                self.sampler.remove(item.name)
                self._val[item.name] = item
            self._fingerprints[item.name] = digest
        return changed

    def remove(self, name: str) -> None:
        """Forget an annotation (no error when it is not held)."""
        with self._lock:
            self.sampler.remove(name)
            self._val.pop(name, None)
            self._fingerprints.pop(name, None)

    @property
    def n_train(self) -> int:
        """Training annotations with at least one labelled pixel."""
        return len(self.sampler)

    @property
    def n_val(self) -> int:
        with self._lock:
            return len(self._val)

    def validation_items(self) -> list[AnnotatedImage]:
        """The validation annotations now held (a copy of the list)."""
        with self._lock:
            return list(self._val.values())
