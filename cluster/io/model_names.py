"""Model file names: RootPainter's ``NNNNNN_<unix time>.pt``, without importing torch."""

from __future__ import annotations

import re
from pathlib import Path

MODEL_SUFFIX = ".pt"
_NAME = re.compile(r"^(\d{6,})_(\d+)(?:\.\w+)?$")


def parse_model_name(name: str) -> tuple[int, int] | None:
    """(version, unix time) from a ``NNNNNN_<unix>.<ext>`` file name, else None."""
    match = _NAME.match(Path(name).name)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def model_file_name(version: int, created: float, suffix: str = MODEL_SUFFIX) -> str:
    """RootPainter's naming: ``000007_1700000000.pt``."""
    return f"{version:06d}_{int(created)}{suffix}"
