"""The driver's side of training: the project on disk is the truth, the backend learns.

Only the driver touches the project: it reads images and annotations and sends them
to the backend as plain data, and writes back what the backend makes (each new best
model as ``NNNNNN_<unix>.pt`` with its F1, epoch records into ``logs/epochs.csv``).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from cluster.api import (
    AnnotatedImage,
    Backend,
    EpochRecord,
    ModelSnapshot,
    TrainerState,
    TrainerStatus,
    TrainingConfig,
)
from cluster.io.atomic import write_bytes_atomic
from cluster.io.model_files import load_model_file, model_to_bytes
from cluster.io.model_metadata import COPY_OF, SOURCE_FILE
from cluster.io.model_names import model_file_name
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import output_channels, snapshot_from_model
from rptui.session.stack import read_shown_mask
from rptui.store.annotation_files import from_png_bytes
from rptui.store.brief_lock import held_briefly
from rptui.store.paths import ModelFileInfo
from rptui.store.project import Project

log = logging.getLogger(__name__)

EPOCH_LOG_NAME = "epochs.csv"
CLASS_F1_FIELD = "class_f1"
EPOCH_LOG_COLUMNS = [f.name for f in fields(EpochRecord) if f.name != CLASS_F1_FIELD]
POLL_SECONDS = 1.0
ENDED = (TrainerState.FINISHED, TrainerState.FAILED)


def annotated_image(project: Project, name: str) -> AnnotatedImage | None:
    """The image and saved labels of ``name`` (a stem, or a stack slice's name such as
    ``scan.z0003``), or None when it has no annotation."""
    png = project.load_annotation_png(name)
    split = project.split_of(name)
    if png is None or split is None:
        return None
    image = project.read_named(name)
    classes = project.config.n_classes
    labels = from_png_bytes(png, expected_shape=image.shape[:2], classes=classes, source=name)
    return AnnotatedImage(name, image, labels, split, shown=accepted_mask(project, name, labels))


def accepted_mask(project: Project, name: str, labels: np.ndarray) -> np.ndarray | None:
    """The segmentation ``name``'s annotation corrected, or None (none saved, or a file
    that does not fit: logged, and the annotation is used without it)."""
    path = project.accepted_path(name)
    if not path.is_file():
        return None
    try:
        mask = read_shown_mask(path, classes=project.config.n_classes)
    except (OSError, ValueError) as error:
        log.warning("ignoring the accepted segmentation of %s: %s", name, error)
        return None
    if mask.shape != labels.shape:
        log.warning("ignoring the accepted segmentation of %s: it does not fit the image", name)
        return None
    return mask


def annotated_images(project: Project) -> list[AnnotatedImage]:
    """Every saved annotation of the project, in project order; bad files are logged."""
    items: list[AnnotatedImage] = []
    for stem in project.annotated():
        try:
            item = annotated_image(project, stem)
        except Exception as error:  # one bad file must not stop training on the rest
            log.warning("skipping the annotation of %s: %s", stem, error)
            continue
        if item is not None:
            items.append(item)
    return items


def ensure_start_model(project: Project) -> ModelSnapshot:
    """The model training starts from: the pinned one (:func:`restart_from_pinned`), else
    the newest saved; the first time, random He weights saved as number 1.

    A starting model given at creation was copied in as number 1 already. The model's
    metadata names its file (:data:`SOURCE_FILE`), the parent of the models trained from it.
    """
    newest = project.newest_model()
    pinned = project.pinned_model()
    if project.config.pinned_model is not None and pinned is None:
        log.warning(
            "pinned model #%d is gone; training from the newest", project.config.pinned_model
        )
    if newest is not None and pinned is not None and pinned != newest:
        return restart_from_pinned(project, pinned, newest)
    if newest is not None:
        return _named(load_model_file(newest.path), newest.path)
    classes = tuple(project.config.classes)
    model = UNetGNRes(out_channels=output_channels(classes))
    snapshot = snapshot_from_model(model, version=1, classes=classes)
    return _named(snapshot, save_model(project, snapshot))


def restart_from_pinned(
    project: Project, pinned: ModelFileInfo, newest: ModelFileInfo
) -> ModelSnapshot:
    """The pinned model's weights saved again as the newest model, so that model numbers
    only count up and a mask records the number of the weights that drew it; a newest
    model that is that copy already is used as it is."""
    latest = load_model_file(newest.path)
    if latest.metadata.get(COPY_OF) == pinned.path.name:
        return _named(latest, newest.path)
    chosen = load_model_file(pinned.path)
    kept = {key: value for key, value in chosen.metadata.items() if key != SOURCE_FILE}
    copy = dataclasses.replace(
        chosen,
        version=max(newest.number, latest.version) + 1,
        created=time.time(),
        parent=pinned.path.name,
        metadata={**kept, COPY_OF: pinned.path.name},
    )
    log.info("training starts from the pinned model %s", pinned.path.name)
    return _named(copy, save_model(project, copy))


def _named(snapshot: ModelSnapshot, path: Path) -> ModelSnapshot:
    """``snapshot`` with the name of its file in its metadata."""
    return dataclasses.replace(snapshot, metadata={**snapshot.metadata, SOURCE_FILE: path.name})


def save_model(project: Project, snapshot: ModelSnapshot) -> Path:
    """Write a model atomically as ``NNNNNN_<unix>.pt``, N being its version.

    Files are named by version, not by count, so the file of "model #7" is always
    ``000007_*``; a version superseded before the driver saw it leaves a gap.
    """
    path = project.models_dir / model_file_name(snapshot.version, snapshot.created)
    write_bytes_atomic(path, model_to_bytes(snapshot))
    log.info("saved model %s (F1 %s)", path.name, snapshot.f1)
    return path


def epoch_log_columns(classes: tuple[str, ...]) -> list[str]:
    """The epoch log's columns: the record's, plus ``f1_<class>`` per class when multi-class."""
    if len(classes) <= 2:
        return list(EPOCH_LOG_COLUMNS)
    return [*EPOCH_LOG_COLUMNS, *(f"f1_{name}" for name in classes[1:])]


def _epoch_row(record: EpochRecord, classes: tuple[str, ...]) -> dict[str, object]:
    row = asdict(record)
    per_class = row.pop(CLASS_F1_FIELD)
    if len(classes) > 2:
        row.update({f"f1_{name}": f1 for name, f1 in zip(classes[1:], per_class, strict=False)})
    return row


def append_epoch_log(project: Project, records: list[EpochRecord]) -> None:
    """Append epoch records to ``logs/epochs.csv`` (the whole file is rewritten atomically).

    A log that already exists keeps its header: rows are written in its columns, so a log
    begun by another version of the program stays aligned. Several apps following one
    trainer each pull its records: the rewrite is done under a brief lock, and a record
    the log holds already (same epoch and time) is not written again.
    """
    if not records:
        return
    path = project.logs_dir / EPOCH_LOG_NAME
    with held_briefly(path.with_name(f".{EPOCH_LOG_NAME}.lock")):
        _append_epoch_log(project, path, records)


def _append_epoch_log(project: Project, path: Path, records: list[EpochRecord]) -> None:
    classes = tuple(project.config.classes)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    header = next(csv.reader(io.StringIO(existing)), None) if existing else None
    logged = {(row.get("epoch"), row.get("time")) for row in csv.DictReader(io.StringIO(existing))}
    records = [r for r in records if (str(r.epoch), str(r.time)) not in logged]
    if not records:
        return
    buffer = io.StringIO()
    buffer.write(existing)
    writer = csv.DictWriter(
        buffer, fieldnames=header or epoch_log_columns(classes), restval="", extrasaction="ignore"
    )
    if not existing:
        writer.writeheader()
    for record in records:
        writer.writerow(_epoch_row(record, classes))
    write_bytes_atomic(path, buffer.getvalue().encode("utf-8"))


class TrainingSync:
    """Streams what a backend makes into the project: new best models and epoch records."""

    def __init__(self, project: Project, backend: Backend, *, model_version: int) -> None:
        self.project = project
        self.backend = backend
        self.model_version = model_version
        self.last_epoch = 0

    async def send_annotations(self) -> int:
        """Send every saved annotation (the backend replaces ones it has by name)."""
        items = await asyncio.to_thread(annotated_images, self.project)
        for item in items:
            await self.backend.add_annotation(item)
        return len(items)

    async def pull(self) -> TrainerStatus:
        """Save new epoch records and a new best model, if any; return the status."""
        records = await self.backend.epoch_log(self.last_epoch)
        if records:
            await asyncio.to_thread(append_epoch_log, self.project, records)
            self.last_epoch = records[-1].epoch
        snapshot = await self.backend.newest_model(self.model_version)
        if snapshot is not None:
            await asyncio.to_thread(save_model, self.project, snapshot)
            self.model_version = snapshot.version
        return await self.backend.status()


async def train_project(
    project: Project,
    backend: Backend,
    config: TrainingConfig,
    *,
    seconds: float | None = None,
    on_status: Callable[[TrainerStatus], None] | None = None,
) -> TrainerStatus:
    """Train until early stopping, failure or ``seconds``; everything made lands on disk.

    The project's classes are always the ones trained, whatever ``config`` says.
    """
    config = dataclasses.replace(config, classes=tuple(project.config.classes))
    start = await asyncio.to_thread(ensure_start_model, project)
    sync = TrainingSync(project, backend, model_version=start.version)
    await sync.send_annotations()
    await backend.start_training(config, start)
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            status = await sync.pull()
            if on_status is not None:
                on_status(status)
            if status.state in ENDED or (deadline is not None and time.monotonic() > deadline):
                break
    finally:
        await backend.stop_training()
    return await sync.pull()
