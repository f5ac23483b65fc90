"""Hand-made masks brought into a project as annotations with every pixel labelled.

A mask file names its image by stem (``plant7.png`` for ``plant7.jpg``; ``scan.z0003.png``
for slice 3 of the stack ``scan``). A grey image whose values are all class numbers of
the project (0/1, or a label PNG of 0..K-1) is taken as it is; anything else is read as
:func:`cluster.measure.files.read_measurable_mask` reads it (our 0/255 masks, RootPainter's
RGBA segmentations, RhizoVision's black on white): 0 background, 1..K a class.
Each becomes an annotation labelling every pixel (background or its class) and takes its
split by the project's rule, in project order. Every file is checked before anything is
written: an unknown stem, a size that differs from the image's, or a class the project
does not have refuses the whole import, naming the files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cluster.api import Split
from cluster.io.image_limits import ImageReadError, opened_image
from cluster.io.images import list_images
from cluster.measure.files import read_measurable_mask
from rptui.store.annotation_files import to_png_bytes
from rptui.store.paths import WorkspaceError
from rptui.store.project import Project

log = logging.getLogger(__name__)

LABEL_OFFSET = 1  # annotation labels: 0 unlabelled, class index + 1
GREY_MODE = "L"
BINARY_VALUES = (0, 255)  # a grey mask of these is 0/255 or black on white, not labels
PROBLEMS_NAMED = 5  # problems named in the one-line refusal; the rest are counted


class MaskImportError(WorkspaceError):
    """Masks that cannot be imported, named in one line."""


@dataclass(frozen=True)
class MaskFile:
    """One mask ready to save: the image (or slice) it annotates and its annotation file."""

    name: str
    source: Path
    position: tuple[int, int]  # (item index, slice): the project order
    png: bytes


@dataclass
class ImportPlan:
    """What an import will do, checked before anything is written."""

    masks: list[MaskFile] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already annotated, left as they are
    ignored: list[Path] = field(default_factory=list)  # not image files


def read_class_mask(path: Path, n_classes: int) -> np.ndarray:
    """A mask file as HxW class indices: a grey image of values below ``n_classes`` as it is
    (0/1 masks, label PNGs), a grey 0/255 one and colour ones as measurable masks (ours,
    RootPainter's RGBA, RhizoVision's black on white); ValueError for other grey values."""
    with opened_image(path) as image:
        if image.mode == GREY_MODE:
            values = np.asarray(image)
            top = int(values.max(initial=0))
            if top < n_classes:
                return values.astype(np.uint8)
            if not np.isin(values, BINARY_VALUES).all():
                raise ValueError(f"holds class {top}; the project has classes 0..{n_classes - 1}")
    return read_measurable_mask(path)


def _labels(project: Project, name: str, path: Path) -> np.ndarray:
    """The annotation labels of mask ``path`` for ``name``; ValueError saying why not."""
    n_classes = len(project.config.classes)
    try:
        mask = read_class_mask(path, n_classes)
    except (ImageReadError, OSError) as error:
        raise ValueError(f"unreadable ({getattr(error, 'reason', error)})") from error
    image_shape = project.read_named(name).shape[:2]
    if mask.shape != image_shape:
        got, want = mask.shape, image_shape
        raise ValueError(f"{got[1]}x{got[0]} px, its image is {want[1]}x{want[0]}")
    top = int(mask.max(initial=0))
    if top >= n_classes:
        raise ValueError(f"holds class {top}; the project has classes 0..{n_classes - 1}")
    return mask.astype(np.uint8) + np.uint8(LABEL_OFFSET)


def _unmatched(project: Project, name: str) -> str:
    """Why no image of ``project`` takes the mask named ``name``."""
    stems = {project.stem(index) for index in range(len(project))}
    if name in stems:  # a whole stack: its slices are annotated one by one
        return f"{name} is a stack: one mask per slice, named {name}.z0001 and so on"
    return f"no image {name!r} in project {project.name}"


def plan_import(project: Project, folder: Path, *, replace: bool = False) -> ImportPlan:
    """Check every mask in ``folder`` against ``project``; the plan, or MaskImportError.

    Images that already have an annotation keep it unless ``replace``.
    """
    paths, not_images = list_images(folder)
    plan = ImportPlan(ignored=[path for path, _ in not_images])
    annotated = project.annotated()
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in paths:
        name = path.stem
        if name in seen:
            problems.append(f"{path.name} (a second mask for {name}, after {seen[name].name})")
            continue
        seen[name] = path
        try:
            position = project.locate(name)
        except (WorkspaceError, ImageReadError):
            problems.append(f"{path.name} ({_unmatched(project, name)})")
            continue
        if name in annotated and not replace:
            plan.kept.append(name)
            continue
        try:
            labels = _labels(project, name, path)
        except (ValueError, ImageReadError) as error:
            problems.append(f"{path.name} ({error})")
            continue
        png = to_png_bytes(labels, classes=len(project.config.classes))
        plan.masks.append(MaskFile(name, path, position, png))
    if problems:
        named = "; ".join(problems[:PROBLEMS_NAMED])
        more = len(problems) - PROBLEMS_NAMED
        rest = f"; and {more} more" if more > 0 else ""
        raise MaskImportError(f"nothing imported: {len(problems)} mask(s) refused: {named}{rest}")
    plan.masks.sort(key=lambda mask: mask.position)
    return plan


def import_masks(project: Project, plan: ImportPlan) -> list[tuple[str, Split]]:
    """Save the plan's annotations in project order; (name, split) of each one saved."""
    saved = []
    for mask in plan.masks:
        split = project.save_annotation_png(mask.name, None, mask.png)
        saved.append((mask.name, split))
        log.info("imported %s as the %s annotation of %s", mask.source, split, mask.name)
    return saved
