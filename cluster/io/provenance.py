"""Which models made a mask: recorded in the mask file, compared when a run resumes.

A mask written by a folder run records the model files of its ensemble, by name and
SHA-256 of the file (a PNG text chunk, a stack TIFF's description, an array of an
``.npz``: see :mod:`cluster.io.mask_formats`). A later run keeps a mask that the same
models made, redoes one made by other models, and keeps one with no record (made by
something else) unless told to overwrite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

MODELS_KEY = "rptui-models"  # the record's key in a mask file
MODEL_FILES_COLUMN = "model_files"  # table columns naming the models of each row's mask
MODEL_HASHES_COLUMN = "model_sha256"
COLUMN_SEPARATOR = ";"
HASH_CHUNK = 1024**2


@dataclass(frozen=True)
class ModelRecord:
    """One model of an ensemble: its file's name and the SHA-256 of its bytes."""

    file: str
    sha256: str


Provenance = tuple[ModelRecord, ...]


def file_sha256(path: Path | str) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def record_models(paths: Iterable[Path]) -> Provenance:
    """The record of an ensemble made of the model files ``paths``."""
    return tuple(ModelRecord(Path(path).name, file_sha256(path)) for path in paths)


def to_text(models: Provenance) -> str:
    """The record as written into a mask file (JSON)."""
    return json.dumps([{"file": m.file, "sha256": m.sha256} for m in models])


def from_text(text: str | None) -> Provenance | None:
    """A record read back from a mask file; None when there is none or it is not valid."""
    if not text:
        return None
    try:
        content = json.loads(text)
    except ValueError:
        return None
    if not isinstance(content, list) or not content:
        return None
    models = []
    for entry in content:
        if not isinstance(entry, dict):
            return None
        name, sha256 = entry.get("file"), entry.get("sha256")
        if not isinstance(name, str) or not isinstance(sha256, str):
            return None
        models.append(ModelRecord(name, sha256))
    return tuple(models)


def same_models(first: Sequence[ModelRecord], second: Sequence[ModelRecord]) -> bool:
    """Whether two ensembles are the same model files (by content, in any order)."""
    return sorted(m.sha256 for m in first) == sorted(m.sha256 for m in second)


def model_columns(models: Provenance | None) -> dict[str, str]:
    """The table columns naming a mask's models (empty strings when unknown)."""
    models = models or ()
    return {
        MODEL_FILES_COLUMN: COLUMN_SEPARATOR.join(m.file for m in models),
        MODEL_HASHES_COLUMN: COLUMN_SEPARATOR.join(m.sha256 for m in models),
    }
