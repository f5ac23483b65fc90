"""The segment-folder form's pieces: field validators, the job it describes, the summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.validation import ValidationResult, Validator

from cluster.io.atomic import write_bytes_atomic
from cluster.io.mask_formats import MaskFormat
from rptui.folders.measuring import IMAGE_KINDS, REGIONS
from rptui.folders.run import FolderReport
from rptui.folders.table_view import IMAGE_TABLE_NAME, REGION_TABLE_NAME
from rptui.folders.tables import VOLUME_TABLE_NAME, table_bytes

FAILED_LISTED = 20  # failures named in the summary; the rest are counted


class FolderExists(Validator):
    """An existing folder (the message names the one that is missing)."""

    def validate(self, value: str) -> ValidationResult:
        """Valid when ``value`` names a folder."""
        path = Path(value.strip()).expanduser()
        if value.strip() and path.is_dir():
            return self.success()
        return self.failure(f"no such folder: {value.strip() or '(empty)'}")


class OutputFolder(Validator):
    """A folder to write into: it may not exist yet, but must not be a file."""

    def validate(self, value: str) -> ValidationResult:
        """Valid when ``value`` is not empty and not a file."""
        path = Path(value.strip()).expanduser()
        if not value.strip():
            return self.failure("name a folder for the masks")
        if path.exists() and not path.is_dir():
            return self.failure(f"not a folder: {value.strip()}")
        return self.success()


@dataclass(frozen=True)
class FolderJob:
    """What the Start button runs."""

    source: Path
    output: Path
    models: tuple[Path, ...]
    fmt: MaskFormat
    kinds: tuple[str, ...]
    tta: bool
    command: tuple[str, ...] | None  # run as this ``rptui`` command line, else in the app

    def segment_arguments(self) -> list[str]:
        """``rptui segment`` arguments for this run, reporting JSON lines."""
        words = ["segment", str(self.source), str(self.output), "--format", self.fmt]
        for model in self.models:
            words += ["--model", str(model)]
        if self.kinds:
            words += ["--measure", ",".join(self.kinds)]
        if not self.tta:
            words.append("--no-tta")
        return [*words, "--progress-jsonl"]


def table_paths(output: Path, kinds: tuple[str, ...]) -> tuple[Path | None, Path | None]:
    """The image table and the region table a run writes (None when not measured)."""
    image = output / IMAGE_TABLE_NAME if set(kinds) & set(IMAGE_KINDS) else None
    regions = output / REGION_TABLE_NAME if REGIONS in kinds else None
    return image, regions


def summary_text(report: FolderReport, output: Path, tables: list[Path]) -> str:
    """What a run did, as the summary shows it."""
    head = "cancelled: " if report.cancelled else ""
    lines = [
        f"{head}{len(report.written)} masks written to {output}, "
        f"{len(report.skipped_existing)} already there, {len(report.failed)} failed "
        f"({report.seconds:.1f} s)"
    ]
    for path, reason in report.failed[:FAILED_LISTED]:
        lines.append(f"failed {path.name}: {reason}")
    if len(report.failed) > FAILED_LISTED:
        lines.append(f"... and {len(report.failed) - FAILED_LISTED} more failed")
    lines.extend(f"table: {path}" for path in tables)
    if tables:
        lines.append("Ctrl+T shows the table")
    return "\n".join(lines)


def outcome_text(
    report: FolderReport, output: Path, tables: list[Path], progress: tuple[int, int]
) -> tuple[str, str]:
    """(progress line, summary) when a run ends; the line is '' when the last one stays.

    ``progress`` is (done, total) as last reported: a cancelled child run reports no
    counts of its own.
    """
    done, total = progress
    nothing = not report.written and not report.skipped_existing and not report.failed
    if report.cancelled and nothing:
        summary = f"cancelled: masks written so far stay in {output}; Start resumes the run"
        return f"cancelled after {done} of {total or '?'} images", summary
    summary = summary_text(report, output, tables)
    if report.cancelled:
        return f"cancelled after {done} of {total} images", summary
    return ("no images in the folder" if nothing else ""), summary


def write_tables(report: FolderReport, job: FolderJob) -> list[Path]:
    """Write the run's tables next to its masks, as ``rptui segment`` does; the paths written.

    The image and region tables follow the kinds measured; ``volumes.csv`` (voxels per
    class per stack) is written whenever the folder held stacks.
    """
    image, regions = table_paths(job.output, job.kinds)
    volumes = job.output / VOLUME_TABLE_NAME if report.volume_rows else None
    written = []
    tables = (
        (image, report.image_table),
        (regions, report.region_table),
        (volumes, report.volume_table),
    )
    for path, table in tables:
        if path is not None:
            write_bytes_atomic(path, table_bytes(table(), path))
            written.append(path)
    return written
