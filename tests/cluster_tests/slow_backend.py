"""A process waiting on a backend child that takes long to start (its parent gets killed).

``python -m tests.cluster_tests.slow_backend PID_FILE``: the child writes its pid to
PID_FILE and then takes a minute to build its backend.
"""

from __future__ import annotations

import os
import sys
import time
from functools import partial
from pathlib import Path

from cluster.api import Backend
from cluster.backends.isolated import IsolatedBackend

START_S = 60.0


def slow_start(pid_file: str) -> Backend:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(START_S)
    raise RuntimeError("took too long")


def main(argv: list[str]) -> int:
    IsolatedBackend(partial(slow_start, argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
