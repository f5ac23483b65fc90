"""A project's saved models as ``rptui models`` shows them: what each file records (its
time, validation F1, the annotations it had seen, its parent and training settings), or
why it cannot be read; the best one; and which ones pruning removes.

Files that record nothing of this (RootPainter's, older ones) show ``—``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cluster.api import ModelSnapshot
from cluster.io.model_files import ModelFileError, load_model_file, recorded_metadata
from cluster.io.model_metadata import (
    ANNOTATIONS_TRAIN,
    ANNOTATIONS_VAL,
    BATCH_SIZE,
    COPY_OF,
    EPOCH,
    FOREGROUND_THRESHOLD,
    LAST_ANNOTATION,
    LEARNING_RATE,
    MOMENTUM,
    OPTIMISER,
    SETTINGS,
    TILE_SIZE,
    WEIGHT_AVERAGE,
)
from cluster.io.model_names import parse_model_name
from rptui.store.paths import ModelFileInfo
from rptui.store.project import Project

UNKNOWN = "—"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
F1_DIGITS = 3
SETTING_LABELS = {
    TILE_SIZE: "tile",
    BATCH_SIZE: "batch",
    OPTIMISER: "optimiser",
    LEARNING_RATE: "lr",
    MOMENTUM: "momentum",
    WEIGHT_AVERAGE: "average",
    FOREGROUND_THRESHOLD: "threshold",
}
RECORD_CACHE = 1024  # model files read for their score, remembered by path


@dataclass(frozen=True)
class ModelEntry:
    """One model file: what it records (its weights left out), or why it cannot be read."""

    info: ModelFileInfo
    snapshot: ModelSnapshot | None  # None when the file cannot be read
    error: str | None = None

    @property
    def number(self) -> int:
        return self.info.number

    @property
    def f1(self) -> float | None:
        return self.snapshot.f1 if self.snapshot is not None else None

    @property
    def created(self) -> float:
        """When the model was saved: what the file records, else the time in its name."""
        return self.snapshot.created if self.snapshot is not None else float(self.info.unix_time)

    def recorded(self, key: str) -> str | None:
        """A metadata value the file records, or None."""
        return self.snapshot.metadata.get(key) if self.snapshot is not None else None


def read_entry(info: ModelFileInfo) -> ModelEntry:
    """The entry of one model file, reading its weights only to check them."""
    try:
        snapshot = load_model_file(info.path)
    except ModelFileError as error:
        return ModelEntry(info, None, error=str(error).removeprefix(f"{info.path}: "))
    return ModelEntry(info, dataclasses.replace(snapshot, state_dict={}))


def read_models(project: Project) -> list[ModelEntry]:
    """Every model file of the project, by number."""
    return [read_entry(info) for info in project.models()]


def best_model(entries: Sequence[ModelEntry]) -> ModelEntry | None:
    """The model with the highest recorded validation F1 (the earliest of equals)."""
    scored = [entry for entry in entries if entry.f1 is not None]
    return max(scored, key=lambda entry: (entry.f1, -entry.number), default=None)


def best_number(f1s: Mapping[int, float | None]) -> int | None:
    """The model number with the highest F1 (the lowest number of equals); None: no F1."""
    scored = [(f1, -number) for number, f1 in f1s.items() if f1 is not None]
    return -max(scored)[1] if scored else None


@dataclass(frozen=True)
class RecordedScore:
    """A model file's validation F1 and the validation annotations it had when saved
    (None: not recorded)."""

    f1: float | None
    n_val: int | None


@functools.lru_cache(maxsize=RECORD_CACHE)
def recorded_score(path: Path) -> RecordedScore:
    """What a model file records of its validation, read without its weights; a model file
    is never rewritten (its name holds its number and time), so each is read once."""
    metadata = recorded_metadata(path) or {}
    extra = metadata.get("extra")
    f1, n_val = metadata.get("f1"), extra.get(ANNOTATIONS_VAL) if isinstance(extra, dict) else None
    return RecordedScore(
        float(f1) if isinstance(f1, int | float) else None,
        int(n_val) if isinstance(n_val, str) and n_val.isdigit() else None,
    )


def validation_sizes(entries: Sequence[ModelEntry]) -> list[int]:
    """The distinct validation set sizes the scored models' F1s were recorded with."""
    sizes = {entry.recorded(ANNOTATIONS_VAL) for entry in entries if entry.f1 is not None}
    return sorted(int(size) for size in sizes if size is not None and size.isdigit())


def prune_plan(entries: Sequence[ModelEntry], *, pinned: int | None, keep: int) -> list[ModelEntry]:
    """The models pruning removes: all but the pinned, the best and the newest ``keep``."""
    best = best_model(entries)
    kept = {entry.info for entry in entries[-keep:]} if keep > 0 else set()
    return [
        entry
        for entry in entries
        if entry.info not in kept and entry.number != pinned and entry is not best
    ]


# -- how an entry reads ----------------------------------------------------------------------
def time_text(entry: ModelEntry) -> str:
    """When the model was saved, in local time."""
    return time.strftime(TIME_FORMAT, time.localtime(entry.created))


def f1_text(f1: float | None) -> str:
    """A validation F1, or ``—``."""
    return UNKNOWN if f1 is None else f"{f1:.{F1_DIGITS}f}"


def annotations_text(entry: ModelEntry) -> str:
    """``12 train + 3 val, last img_04``: the annotations the model had seen, or ``—``."""
    n_train, n_val = entry.recorded(ANNOTATIONS_TRAIN), entry.recorded(ANNOTATIONS_VAL)
    if n_train is None or n_val is None:
        return UNKNOWN
    last = entry.recorded(LAST_ANNOTATION)
    return f"{n_train} train + {n_val} val" + (f", last {last}" if last else "")


def model_reference(name: str) -> str:
    """``#7`` for a version or a model file name (``000007_<unix>.pt``); other names as
    they are."""
    if name.isdigit():
        return f"#{int(name)}"
    parsed = parse_model_name(name)
    return f"#{parsed[0]}" if parsed is not None else name


def parent_text(entry: ModelEntry) -> str:
    """The model this one continued from (``copy of #3`` for a pinned model saved again)."""
    copied = entry.recorded(COPY_OF)
    if copied is not None:
        return f"copy of {model_reference(copied)}"
    parent = entry.snapshot.parent if entry.snapshot is not None else None
    return UNKNOWN if parent is None else model_reference(parent)


def settings(entry: ModelEntry) -> dict[str, str]:
    """The training settings the file records, by label (``tile``, ``batch``, ...), and
    the foreground threshold it segments with when it records one."""
    recorded = {key: entry.recorded(key) for key in (*SETTINGS, FOREGROUND_THRESHOLD)}
    return {SETTING_LABELS[key]: value for key, value in recorded.items() if value is not None}


def settings_text(entry: ModelEntry) -> str:
    """``tile 124, batch 8, optimiser sgd, lr 0.01, momentum 0.9``, or ``—``."""
    shown = settings(entry)
    return ", ".join(f"{label} {value}" for label, value in shown.items()) or UNKNOWN


def epoch_text(entry: ModelEntry) -> str:
    return entry.recorded(EPOCH) or UNKNOWN
