"""The project.json model: what a project is, read strictly and written atomically.

``project.json`` holds the schema version, the project's name, its dataset (a name in
the workspace, or an absolute folder for imported RootPainter projects), the classes,
the starting model, the settings, the image order fixed at creation (with the seed
that shuffled it), each annotated image's split (fixed once assigned), the reviewed
images and the last position. A file that does not parse, or lacks a key, raises
:class:`CorruptProjectError` naming it; nothing ever overwrites such a file.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster.api import Split
from cluster.atomic import write_bytes_atomic, write_json_atomic
from rptui.annotation import assign_split
from rptui.lock import LockInfo, ProjectLock
from rptui.paths import (
    CorruptProjectError,
    ModelFileInfo,
    ReadOnlyProjectError,
    WorkspaceError,
    parse_model_file_name,
    stem_of,
    validate_name,
)

SPLITS: tuple[Split, ...] = ("train", "val")
PROJECT_FILE_NAME = "project.json"
SCHEMA_VERSION = 1
DEFAULT_CLASSES: tuple[str, ...] = ("background", "foreground")
DEFAULT_SETTINGS: dict[str, Any] = {
    "pre_segment": 1,
    "foreground_brush_size": 3,
    "background_brush_size": 9,
    "overlay_opacity": 0.5,
    "palette": "default",  # or "colourblind" (rptui.tui.render.PALETTES)
    "key_bindings": {},
    "order": "sequential",  # or "uncertain": most uncertain next (rptui.order)
}
MODEL_SUFFIX = ".pt"
SEGMENTATION_RECORD_SUFFIX = ".json"


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
    """The split for a newly annotated image, by METHOD.md's rule (see assign_split)."""
    n_val = sum(1 for split in splits.values() if split == "val")
    return assign_split(len(splits) - n_val, n_val)


@dataclass
class ProjectConfig:
    """The contents of project.json."""

    name: str
    dataset: str
    images: list[str]
    classes: tuple[str, ...] = DEFAULT_CLASSES
    start_model: str | None = None
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    seed: int | None = None
    splits: dict[str, Split] = field(default_factory=dict)
    reviewed: set[str] = field(default_factory=set)
    served: list[str] = field(default_factory=list)  # most uncertain next: served, in order
    position: int = 0
    location: str | None = None  # absolute data folder when it lives outside the workspace
    rootpainter_file: str | None = None  # the .seg_proj this project was imported from
    created: float = field(default_factory=time.time)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to project.json."""
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "dataset": self.dataset,
            "images": list(self.images),
            "classes": list(self.classes),
            "start_model": self.start_model,
            "settings": self.settings,
            "seed": self.seed,
            "splits": dict(self.splits),
            "reviewed": sorted(self.reviewed),
            "served": list(self.served),
            "position": self.position,
            "location": self.location,
            "rootpainter_file": self.rootpainter_file,
            "created": self.created,
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
                classes=tuple(_typed(c, str, "class") for c in _list(obj.get("classes", []))),
                start_model=_optional_str(obj.get("start_model"), "start_model"),
                settings={**DEFAULT_SETTINGS, **_typed(obj.get("settings", {}), dict, "settings")},
                seed=_optional_int(obj.get("seed"), "seed"),
                splits=_splits(obj.get("splits", {})),
                reviewed={_typed(s, str, "reviewed") for s in _list(obj.get("reviewed", []))},
                served=[_typed(s, str, "served") for s in _list(obj.get("served", []))],
                position=_typed(obj.get("position", 0), int, "position"),
                location=_optional_str(obj.get("location"), "location"),
                rootpainter_file=_optional_str(obj.get("rootpainter_file"), "rootpainter_file"),
                created=float(_typed(obj.get("created", 0.0), (int, float), "created")),
                schema_version=version,
            )
        except (WorkspaceError, TypeError, ValueError) as exc:
            raise CorruptProjectError(path, str(exc)) from exc
        if len(config.classes) < 2:
            raise CorruptProjectError(path, "a project needs at least two classes")
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


@dataclass(frozen=True)
class SegmentationInfo:
    """The latest segmentation of an image and the model version that made it."""

    path: Path
    model_version: int | None  # None when unknown (no record, or a record of another mask)
    time: float | None


class Project:
    """An open project: its config, its folders, and the one writer's lock.

    Open projects through :class:`rptui.workspace.Workspace`. ``root`` holds the data
    (annotations, segmentations, models, logs); ``config_path`` is project.json.
    A read-only project (``read_only``; ``read_only_reason`` says why) refuses writes.
    """

    def __init__(
        self,
        config_path: Path,
        config: ProjectConfig,
        *,
        root: Path,
        dataset_dir: Path,
        lock: ProjectLock | None,
        read_only_reason: str | None = None,
        lock_info: LockInfo | None = None,
    ) -> None:
        self.config_path = Path(config_path)
        self.config = config
        self.root = Path(root)
        self.dataset_dir = Path(dataset_dir)
        self._lock = lock
        self.read_only_reason = read_only_reason
        self.lock_info = lock_info
        self.annotations_dir = self.root / "annotations"
        self.segmentations_dir = self.root / "segmentations"
        self.models_dir = self.root / "models"
        self.logs_dir = self.root / "logs"

    @property
    def name(self) -> str:
        """The project's name."""
        return self.config.name

    @property
    def read_only(self) -> bool:
        """Whether writes are refused (locked by another session, or asked for)."""
        return self._lock is None

    @property
    def folders(self) -> tuple[Path, ...]:
        """Every folder the project writes into."""
        return (
            *(self.annotations_dir / split for split in SPLITS),
            self.segmentations_dir,
            self.models_dir,
            self.logs_dir,
        )

    def _check_writable(self, action: str) -> None:
        if self._lock is None:
            raise ReadOnlyProjectError(
                f"cannot {action}: project {self.name} is read-only ({self.read_only_reason})"
            )

    # images -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.config.images)

    @property
    def image_names(self) -> list[str]:
        """Image file names in the fixed project order."""
        return list(self.config.images)

    def image_path(self, index: int) -> Path:
        """The file of image ``index`` in the project order."""
        return self.dataset_dir / validate_name(self.config.images[index], what="image name")

    def stem(self, index: int) -> str:
        """The stem annotations and segmentations of image ``index`` are named by."""
        return stem_of(self.config.images[index])

    def index_of(self, stem: str) -> int:
        """The position of the image with ``stem``; WorkspaceError when absent."""
        for index, file_name in enumerate(self.config.images):
            if Path(file_name).stem == stem:
                return index
        raise WorkspaceError(f"project {self.name} has no image {stem!r}")

    # config -------------------------------------------------------------
    def save_config(self) -> None:
        """Write project.json atomically (refused when read-only)."""
        self._check_writable("save project settings")
        save_config(self.config_path, self.config)

    def set_position(self, index: int, *, reviewed: bool = False, served: bool = False) -> None:
        """Remember where the user is (and, optionally, that the image was reviewed, or
        served by the most-uncertain-next order, which never serves it again)."""
        if not 0 <= index < len(self):
            raise WorkspaceError(f"image index {index} out of range 0..{len(self) - 1}")
        self.config.position = index
        if reviewed:
            self.config.reviewed.add(self.stem(index))
        if served and self.stem(index) not in self.config.served:
            self.config.served.append(self.stem(index))
        self.save_config()

    # annotations --------------------------------------------------------
    def annotation_path(self, stem: str, split: Split) -> Path:
        """Where the annotation of ``stem`` in ``split`` lives."""
        if split not in SPLITS:
            raise WorkspaceError(f"split must be 'train' or 'val', got {split!r}")
        return self.annotations_dir / split / f"{validate_name(stem, what='image stem')}.png"

    def split_of(self, stem: str) -> Split | None:
        """The split ``stem`` was assigned to, or None if it has none yet."""
        return self.config.splits.get(stem)

    def annotated(self) -> dict[str, Split]:
        """Every annotated image's stem and split (from the files on disk)."""
        found: dict[str, Split] = {}
        for split in SPLITS:
            folder = self.annotations_dir / split
            if folder.is_dir():
                found.update({p.stem: split for p in folder.glob("*.png")})
        return found

    def save_annotation_png(self, stem: str, split: Split | None, png_bytes: bytes) -> Split:
        """Save an annotation atomically; ``split`` None assigns one. Returns the split.

        An image keeps its split forever: asking for another one is an error.
        """
        self._check_writable("save an annotation")
        validate_name(stem, what="image stem")
        known = self.config.splits.get(stem)
        if known is not None and split is not None and split != known:
            raise WorkspaceError(f"{stem} is in {known}; an image never changes split")
        chosen: Split = known or split or choose_split(self.config.splits)
        write_bytes_atomic(self.annotation_path(stem, chosen), png_bytes)
        if known is None:
            self.config.splits[stem] = chosen
            self.save_config()
        return chosen

    def annotation_file(self, stem: str) -> Path | None:
        """The annotation file of ``stem`` (its own split first, then train, val), or None."""
        for split in ((self.split_of(stem),) if self.split_of(stem) else ()) + SPLITS:
            path = self.annotation_path(stem, split)
            if path.is_file():
                return path
        return None

    def load_annotation_png(self, stem: str) -> bytes | None:
        """The annotation PNG of ``stem`` from train or val, or None."""
        path = self.annotation_file(stem)
        return path.read_bytes() if path is not None else None

    # models -------------------------------------------------------------
    def models(self) -> list[ModelFileInfo]:
        """Model files ``NNNNNN_<unix>.<ext>``, sorted by number."""
        if not self.models_dir.is_dir():
            return []
        infos = [parse_model_file_name(p) for p in self.models_dir.iterdir() if p.is_file()]
        return sorted(info for info in infos if info is not None)

    def newest_model(self) -> ModelFileInfo | None:
        """The highest-numbered model file, or None."""
        models = self.models()
        return models[-1] if models else None

    # segmentations ------------------------------------------------------
    def segmentation_path(self, stem: str) -> Path:
        """The latest mask of ``stem``."""
        return self.segmentations_dir / f"{validate_name(stem, what='image stem')}.png"

    def save_segmentation(self, stem: str, png_bytes: bytes, model_version: int) -> Path:
        """Save a mask atomically, then record beside it which model made it."""
        self._check_writable("save a segmentation")
        path = self.segmentation_path(stem)
        write_bytes_atomic(path, png_bytes)
        record = {
            "model_version": int(model_version),
            "time": time.time(),
            "sha256": hashlib.sha256(png_bytes).hexdigest(),
        }
        write_json_atomic(path.with_suffix(SEGMENTATION_RECORD_SUFFIX), record)
        return path

    def segmentation_info(self, stem: str) -> SegmentationInfo | None:
        """The latest mask of ``stem`` and its model version; None when there is none."""
        path = self.segmentation_path(stem)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            record = json.loads(path.with_suffix(SEGMENTATION_RECORD_SUFFIX).read_bytes())
            if record["sha256"] != hashlib.sha256(data).hexdigest():
                return SegmentationInfo(path, None, None)
            return SegmentationInfo(path, int(record["model_version"]), float(record["time"]))
        except (OSError, ValueError, KeyError, TypeError):
            return SegmentationInfo(path, None, None)

    # lifetime -----------------------------------------------------------
    def refresh_lock(self) -> None:
        """Renew the lock's heartbeat (call every few minutes in long sessions)."""
        if self._lock is not None:
            self._lock.refresh()

    def close(self) -> None:
        """Release the lock; the project becomes read-only."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
            self.read_only_reason = "closed"

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
