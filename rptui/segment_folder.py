"""Segment a folder of images with an ensemble, in this process.

Resumable (an output already written is skipped), atomic (each mask is written whole
or not at all), and a file that fails is reported while the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cluster.devices import pick_device, resolve_precision
from cluster.images import ImageReadError, list_images, read_image
from cluster.infer import ModelCache, segment
from cluster.mask_formats import SUFFIXES, MaskFormat, encode_mask
from rptui.atomic import write_bytes_atomic

log = logging.getLogger(__name__)


@dataclass
class FolderReport:
    """What a folder run did."""

    written: list[Path] = field(default_factory=list)
    skipped_existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def output_path(output: Path, image: Path, fmt: MaskFormat) -> Path:
    """Where the mask of ``image`` goes."""
    return output / f"{image.stem}{SUFFIXES[fmt]}"


def segment_folder(
    source: Path,
    output: Path,
    model_paths: Sequence[Path],
    *,
    fmt: MaskFormat = "png",
    tta: bool = True,
    precision: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> FolderReport:
    """Segment every image in ``source`` into ``output``."""
    images, not_images = list_images(source)
    report = FolderReport(failed=list(not_images))
    output.mkdir(parents=True, exist_ok=True)
    device = pick_device()
    models = ModelCache(device).get_many(model_paths)
    dtype = resolve_precision(device, precision)  # type: ignore[arg-type]
    for done, path in enumerate(images, start=1):
        target = output_path(output, path, fmt)
        if target.exists():
            report.skipped_existing.append(target)
        else:
            try:
                image = read_image(path)
                mask, probability = segment(models, image, tta=tta, device=device, dtype=dtype)
                write_bytes_atomic(target, encode_mask(mask, fmt=fmt, probability=probability))
                report.written.append(target)
            except ImageReadError as error:
                report.failed.append((path, error.reason))
        if progress is not None:
            progress(done, len(images))
    return report
