"""An open project: its folders, items and slices, annotations, segmentations, models, leases.

What ``project.json`` holds, and how it is read and written, is
:mod:`rptui.store.project_config`; the dataset's items and their slices (an image file, a
multi-page TIFF or a folder of numbered slices) are :mod:`rptui.store.project_items`.
Several apps may have a project open for writing at once (docs/workspace.md): each
write of project.json is a read-modify-write under a brief lock
(:mod:`rptui.store.shared_config`), and each app holds a lease on the image it shows
(:mod:`rptui.store.leases`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from cluster.api import Split
from cluster.io.atomic import write_bytes_atomic, write_json_atomic
from rptui.store.annotator import Annotator
from rptui.store.classes import RGB
from rptui.store.leases import ImageLeases
from rptui.store.lock import LockInfo
from rptui.store.paths import (
    ModelFileInfo,
    ReadOnlyProjectError,
    WorkspaceError,
    parse_model_file_name,
    validate_name,
)
from rptui.store.project_config import (
    SPLITS,
    ProjectConfig,
    choose_split,
)
from rptui.store.project_items import ProjectItems
from rptui.store.shared_config import SharedConfig

log = logging.getLogger(__name__)

MODEL_SUFFIX = ".pt"
SEGMENTATION_RECORD_SUFFIX = ".json"
ACCEPTED_FOLDER = "accepted"  # under annotations/: the segmentations corrections were painted on


@dataclass(frozen=True)
class SegmentationInfo:
    """The latest segmentation of an image and the model version that made it."""

    path: Path
    model_version: int | None  # None when unknown (no record, or a record of another mask)
    time: float | None


class Project(ProjectItems):
    """An open project: its config, its folders, and this app's image leases.

    Open projects through :class:`rptui.store.workspace.Workspace`. ``root`` holds the data
    (annotations, segmentations, models, logs); ``config_path`` is project.json.
    A read-only project (``read_only``; ``read_only_reason`` says why) refuses writes.
    ``annotator`` is who saves annotations (recorded with each); ``leases`` are the
    images this app holds (None when read-only).
    """

    def __init__(
        self,
        config_path: Path,
        config: ProjectConfig,
        *,
        root: Path,
        dataset_dir: Path,
        writable: bool = False,
        read_only_reason: str | None = None,
        lock_info: LockInfo | None = None,
        annotator: Annotator | None = None,
        leases: ImageLeases | None = None,
    ) -> None:
        super().__init__(config, dataset_dir)
        self.config_path = Path(config_path)
        self.root = Path(root)
        self._writable = writable
        self.shared = SharedConfig(self.config_path, config)
        self.annotator = annotator or Annotator.current()
        self.leases = leases if writable else None
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
        """Whether writes are refused (asked for, not permitted, or held by an older rptui)."""
        return not self._writable

    @property
    def folders(self) -> tuple[Path, ...]:
        """Every folder the project writes into."""
        return (
            *(self.annotations_dir / split for split in SPLITS),
            self.annotations_dir / ACCEPTED_FOLDER,
            self.segmentations_dir,
            self.models_dir,
            self.logs_dir,
        )

    def _check_writable(self, action: str) -> None:
        if not self._writable:
            raise ReadOnlyProjectError(
                f"cannot {action}: project {self.name} is read-only ({self.read_only_reason})"
            )

    def class_colours(self) -> dict[str, RGB]:
        """Each foreground class's (r, g, b) (see :meth:`ProjectConfig.class_colours`)."""
        return self.config.class_colours()

    # config -------------------------------------------------------------
    def save_config(self) -> None:
        """Write this app's settings and position into project.json, merged with what other
        apps recorded (:meth:`SharedConfig.save`; refused when read-only)."""
        self._check_writable("save project settings")
        self.shared.save()

    def reload_config(self) -> None:
        """Take in the splits, reviewed and served images other apps recorded since; a
        file that cannot be read now is logged and the copy in memory kept."""
        try:
            self.shared.reload()
        except WorkspaceError as error:
            log.warning("could not reread %s: %s", self.config_path, error)

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

    def accepted_path(self, stem: str) -> Path:
        """Where the segmentation accepted with ``stem``'s annotation lives: the mask the
        user painted corrections over (docs/workspace.md)."""
        return (
            self.annotations_dir / ACCEPTED_FOLDER / f"{validate_name(stem, what='image stem')}.png"
        )

    def save_annotation_png(
        self, stem: str, split: Split | None, png_bytes: bytes, accepted_png: bytes | None = None
    ) -> Split:
        """Save an annotation atomically; ``split`` None assigns one. Returns the split.

        ``accepted_png`` is the segmentation the annotation corrects (a mask file), saved
        beside it; None removes an older one. An image keeps its split forever: asking
        for another one is an error.
        """
        self._check_writable("save an annotation")
        validate_name(stem, what="image stem")
        record = {**self.annotator.to_json(), "time": time.time()}

        def save(config: ProjectConfig) -> Split:
            # The split is chosen from the file's splits under the lock, so two apps
            # accepting at once follow the split rule together.
            known = config.splits.get(stem)
            if known is not None and split is not None and split != known:
                raise WorkspaceError(f"{stem} is in {known}; an image never changes split")
            chosen: Split = known or split or choose_split(config.splits)
            write_bytes_atomic(self.annotation_path(stem, chosen), png_bytes)
            if accepted_png is None:
                self.accepted_path(stem).unlink(missing_ok=True)
            else:
                write_bytes_atomic(self.accepted_path(stem), accepted_png)
            config.splits[stem] = chosen
            config.annotated_by.setdefault(stem, []).append(record)
            return chosen

        return self.shared.update(save)

    def annotators_of(self, stem: str) -> list[dict[str, object]]:
        """Who saved the annotation of ``stem`` and when, oldest first (project.json's
        ``annotated_by``)."""
        return [dict(record) for record in self.config.annotated_by.get(stem, [])]

    def annotation_file(self, stem: str) -> Path | None:
        """The annotation file of ``stem`` (its own split first, then train, val), or None."""
        own = self.split_of(stem)
        for split in ((own,) if own else ()) + SPLITS:
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

    def model(self, number: int) -> ModelFileInfo | None:
        """The file of model ``number`` (the newest of that number), or None."""
        matching = [info for info in self.models() if info.number == number]
        return matching[-1] if matching else None

    def pinned_model(self) -> ModelFileInfo | None:
        """The pinned model's file; None when no model is pinned or its file is gone."""
        number = self.config.pinned_model
        return None if number is None else self.model(number)

    def pin_model(self, number: int | None) -> None:
        """Pin model ``number`` in project.json (None unpins); WorkspaceError when no model
        file has that number."""
        self._check_writable("unpin the model" if number is None else "pin a model")
        if number is not None and self.model(number) is None:
            raise WorkspaceError(f"project {self.name} has no model number {number}")

        def pin(config: ProjectConfig) -> None:
            config.pinned_model = number

        self.shared.update(pin)

    def remove_model(self, info: ModelFileInfo) -> None:
        """Delete a model file; the pinned model's is refused (unpin it first)."""
        self._check_writable("remove a model")
        if info.number == self.config.pinned_model:
            raise WorkspaceError(f"model #{info.number} is pinned; unpin it before removing it")
        info.path.unlink(missing_ok=True)

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
        """Renew this app's image leases (call it often: it renews every few seconds)."""
        if self.leases is not None:
            self.leases.renew()

    def close(self) -> None:
        """Give this app's image leases back; the project becomes read-only."""
        if self._writable:
            if self.leases is not None:
                self.leases.release_all()
            self._writable = False
            self.read_only_reason = "closed"

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
