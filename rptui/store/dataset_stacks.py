"""Stacks in a new dataset: recognised, and copied whole, byte for byte."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from cluster.io.atomic import TEMP_SUFFIX
from cluster.io.images import TIFF_SUFFIXES
from cluster.io.stacks import list_slice_files, stack_depth


def is_stack(path: Path) -> bool:
    """Whether a source item is a stack (a slice folder or a multi-page TIFF).

    Raises:
        ImageReadError: a multi-page TIFF whose pages differ in size.
    """
    if path.is_dir():
        return True
    return path.suffix.lower() in TIFF_SUFFIXES and stack_depth(path) > 1


def copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically, streaming (stacks can be gigabytes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent
    )
    os.close(fd)
    try:
        shutil.copyfile(source, tmp_name)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def copy_stack(path: Path, destination: Path, stem: str) -> Path:
    """Copy a stack whole into ``destination``; returns the TIFF or folder written."""
    name = (path.name if stem == path.stem else stem) if path.is_dir() else stem + path.suffix
    target = destination / name
    number = 2
    while target.exists():
        target = destination / f"{name}-{number}"
        number += 1
    if not path.is_dir():
        copy_file(path, target)
        return target
    for slice_file in list_slice_files(path):
        copy_file(slice_file, target / slice_file.name)
    return target
