"""Starter models shipped with the package: a project may start from one instead of random
weights (``--model starter:roots``).

``roots``: thin structures on textured backgrounds, trained by ``benchmarks/train_starter.py``
on the project's own generated photo-like roots (:mod:`cluster.simulate.photo_roots`), so it
carries this package's licence. Stored as half-precision weights in our model file format.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from rptui.errors import UserError

STARTER_PREFIX = "starter:"
STARTERS = {"roots": "roots.pt"}  # name -> file in this package


def is_starter(spec: str) -> bool:
    """Whether a ``--model`` value names a starter model (``starter:NAME``)."""
    return spec.startswith(STARTER_PREFIX)


def starter_file(spec: str) -> Path:
    """The packaged file of ``starter:NAME``; UserError for an unknown or missing one."""
    name = spec[len(STARTER_PREFIX) :]
    if name not in STARTERS:
        known = ", ".join(STARTER_PREFIX + known for known in STARTERS)
        raise UserError(f"--model {spec}: no such starter model (there is {known})")
    path = Path(str(resources.files(__name__).joinpath(STARTERS[name])))
    if not path.is_file():
        raise UserError(f"--model {spec}: the starter model is not installed ({path} is missing)")
    return path


def start_model_source(spec: str | None) -> Path | None:
    """The file a new project's model 1 is copied from: a starter model's packaged file or a
    model file; None for no starting model (random weights) or a name resolved later."""
    if spec is None:
        return None
    if is_starter(spec):
        return starter_file(spec)
    path = Path(spec).expanduser()
    return path if path.is_file() else None


def check_start_model(spec: str) -> None:
    """Refuse a starting model (a file or ``starter:NAME``) that is missing or not a U-Net
    we can load (UserError, or the model file's own error)."""
    from cluster.io.model_files import load_model_file  # torch: only when a model is given

    path = start_model_source(spec)
    if path is None:
        raise UserError(f"--model {spec}: no such model file")
    load_model_file(path)
