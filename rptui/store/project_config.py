"""project.json: what a project is, read strictly and written atomically.

``project.json`` holds the schema version, the project's name, its dataset (a name in
the workspace, or an absolute folder for imported RootPainter projects), the classes
(background first) and their optional colours, the starting model, the settings, the
image order fixed at creation (with the seed that shuffled it), each annotated image's
split (fixed once assigned), the reviewed images, the last position and, when one is
pinned, the number of the pinned model (``pinned_model``, optional) and who saved each
annotation when (``annotated_by``, optional: see docs/workspace.md). A file that
does not parse, or lacks a key, raises :class:`CorruptProjectError` naming it; nothing
ever overwrites such a file. A bad setting only falls back to its default
(:class:`rptui.store.settings.ProjectSettings` names it).

An item (an entry of ``images``) is an image file, a multi-page TIFF or a folder of
numbered slices; the last two are stacks, whose slice z is named ``<stem>.z<z+1:04d>``
(``scan.z0003``) in annotations and segmentations; a plain image keeps its stem.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster.api import Split
from cluster.io.atomic import write_json_atomic
from rptui.store.annotation import assign_split
from rptui.store.classes import (
    RGB,
    default_class_colours,
    parse_colour,
    validate_classes,
    validate_colours,
)
from rptui.store.paths import CorruptProjectError, WorkspaceError, validate_name
from rptui.store.settings import SETTINGS_KEY, ProjectSettings

SPLITS: tuple[Split, ...] = ("train", "val")
PROJECT_FILE_NAME = "project.json"
SCHEMA_VERSION = 1
DEFAULT_CLASSES: tuple[str, ...] = ("background", "foreground")
PINNED_MODEL_KEY = "pinned_model"
ANNOTATED_BY_KEY = "annotated_by"
AnnotationRecord = dict[str, Any]  # {"user": str, "name": str (optional), "time": float}


class NewerSchemaError(WorkspaceError):
    """project.json was written by a newer rptui than this one."""

    def __init__(self, path: Path, version: int) -> None:
        self.path = Path(path)
        self.version = version
        super().__init__(
            f"{self.path} has schema version {version}, newer than this rptui reads "
            f"({SCHEMA_VERSION}); upgrade rptui to open it"
        )


def choose_split(splits: dict[str, Split]) -> Split:
    """The split for a newly annotated image, by the project's rule (see assign_split)."""
    n_val = sum(1 for split in splits.values() if split == "val")
    return assign_split(len(splits) - n_val, n_val)


@dataclass
class ProjectConfig:
    """The contents of project.json."""

    name: str
    dataset: str
    images: list[str]
    classes: tuple[str, ...] = DEFAULT_CLASSES
    colours: dict[str, str] | None = None  # "#rrggbb" by foreground class; None: defaults
    start_model: str | None = None
    settings: ProjectSettings = field(default_factory=ProjectSettings)
    seed: int | None = None
    splits: dict[str, Split] = field(default_factory=dict)
    reviewed: set[str] = field(default_factory=set)
    served: list[str] = field(default_factory=list)  # most uncertain next: served, in order
    position: int = 0
    location: str | None = None  # absolute data folder when it lives outside the workspace
    rootpainter_file: str | None = None  # the .seg_proj this project was imported from
    pinned_model: int | None = None  # the model number `rptui models --pin` chose
    annotated_by: dict[str, list[AnnotationRecord]] = field(default_factory=dict)  # by stem
    created: float = field(default_factory=time.time)
    schema_version: int = SCHEMA_VERSION

    @property
    def n_classes(self) -> int:
        """K, the number of classes including background."""
        return len(self.classes)

    def class_colours(self) -> dict[str, RGB]:
        """Each foreground class's (r, g, b), in class order: ``colours`` over the defaults."""
        chosen = default_class_colours(self.classes)
        for name, colour in (self.colours or {}).items():
            chosen[name] = parse_colour(colour)
        return chosen

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to project.json (``colours`` and ``pinned_model`` only
        when set)."""
        colours = {} if self.colours is None else {"colours": dict(self.colours)}
        pinned = {} if self.pinned_model is None else {PINNED_MODEL_KEY: self.pinned_model}
        by = {ANNOTATED_BY_KEY: _copy_records(self.annotated_by)} if self.annotated_by else {}
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "dataset": self.dataset,
            "images": list(self.images),
            "classes": list(self.classes),
            **colours,
            "start_model": self.start_model,
            "settings": self.settings.to_json(),
            "seed": self.seed,
            "splits": dict(self.splits),
            "reviewed": sorted(self.reviewed),
            "served": list(self.served),
            "position": self.position,
            "location": self.location,
            "rootpainter_file": self.rootpainter_file,
            "created": self.created,
            **pinned,
            **by,
        }

    @classmethod
    def from_json(cls, obj: object, *, path: Path) -> ProjectConfig:
        """Parse project.json's object; CorruptProjectError naming ``path`` if invalid."""
        if not isinstance(obj, dict):
            raise CorruptProjectError(path, "not a JSON object")
        missing = [key for key in ("schema_version", "name", "dataset", "images") if key not in obj]
        if missing:
            raise CorruptProjectError(path, f"missing key(s) {', '.join(missing)}")
        version = obj["schema_version"]
        if not isinstance(version, int) or version < 1:
            raise CorruptProjectError(path, f"bad schema_version {version!r}")
        if version > SCHEMA_VERSION:
            raise NewerSchemaError(path, version)
        try:
            config = cls(
                name=validate_name(obj["name"], what="project name"),
                dataset=_typed(obj["dataset"], str, "dataset"),
                images=[validate_name(n, what="image name") for n in _list(obj["images"])],
                classes=validate_classes(_list(obj.get("classes", []))),
                start_model=_optional_str(obj.get("start_model"), "start_model"),
                settings=ProjectSettings.from_json(obj.get(SETTINGS_KEY, {})),
                seed=_optional_int(obj.get("seed"), "seed"),
                splits=_splits(obj.get("splits", {})),
                reviewed={_typed(s, str, "reviewed") for s in _list(obj.get("reviewed", []))},
                served=[_typed(s, str, "served") for s in _list(obj.get("served", []))],
                position=_typed(obj.get("position", 0), int, "position"),
                location=_optional_str(obj.get("location"), "location"),
                rootpainter_file=_optional_str(obj.get("rootpainter_file"), "rootpainter_file"),
                created=float(_typed(obj.get("created", 0.0), (int, float), "created")),
                pinned_model=_optional_int(obj.get(PINNED_MODEL_KEY), PINNED_MODEL_KEY),
                annotated_by=_annotated_by(obj.get(ANNOTATED_BY_KEY, {})),
                schema_version=version,
            )
        except (WorkspaceError, TypeError, ValueError) as exc:
            raise CorruptProjectError(path, str(exc)) from exc
        if obj.get("colours") is not None:
            try:
                config.colours = validate_colours(obj["colours"], config.classes)
            except WorkspaceError as exc:
                raise CorruptProjectError(path, str(exc)) from exc
        if len(set(config.images)) != len(config.images):
            raise CorruptProjectError(path, "an image is listed twice")
        return config


def _typed(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{what} has the wrong type ({type(value).__name__})")
    return value


def _list(value: Any) -> list[Any]:
    return _typed(value, list, "list")


def _optional_str(value: Any, what: str) -> str | None:
    return None if value is None else _typed(value, str, what)


def _optional_int(value: Any, what: str) -> int | None:
    return None if value is None else _typed(value, int, what)


def _splits(value: Any) -> dict[str, Split]:
    splits = _typed(value, dict, "splits")
    for stem, split in splits.items():
        validate_name(stem, what="annotated image")
        if split not in SPLITS:
            raise ValueError(f"split of {stem!r} must be 'train' or 'val', got {split!r}")
    return dict(splits)


def _copy_records(by: dict[str, list[AnnotationRecord]]) -> dict[str, list[AnnotationRecord]]:
    return {stem: [dict(record) for record in records] for stem, records in by.items()}


def _annotated_by(value: Any) -> dict[str, list[AnnotationRecord]]:
    """``annotated_by``: each stem's records of who saved its annotation and when."""
    found: dict[str, list[AnnotationRecord]] = {}
    for stem, records in _typed(value, dict, ANNOTATED_BY_KEY).items():
        validate_name(stem, what="annotated image")
        found[stem] = [_annotation_record(record) for record in _list(records)]
    return found


def _annotation_record(record: Any) -> AnnotationRecord:
    _typed(record, dict, "annotation record")
    checked: AnnotationRecord = {
        "user": _typed(record.get("user"), str, "annotation record's user"),
        "time": float(_typed(record.get("time"), (int, float), "annotation record's time")),
    }
    if record.get("name") is not None:
        checked["name"] = _typed(record["name"], str, "annotation record's name")
    return checked


def load_config(path: Path) -> ProjectConfig:
    """Read project.json strictly (never repairs or rewrites it)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise WorkspaceError(f"no project file at {path}") from exc
    except OSError as exc:
        raise CorruptProjectError(path, f"cannot be read: {exc}") from exc
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptProjectError(path, f"invalid JSON: {exc}") from exc
    return ProjectConfig.from_json(obj, path=path)


def save_config(path: Path, config: ProjectConfig) -> None:
    """Write project.json atomically."""
    write_json_atomic(path, config.to_json())
