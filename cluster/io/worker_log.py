"""What our code inside a Ray worker process writes to that worker's log file.

Ray keeps a worker's stderr as ``worker-*.err`` under its node's session logs, but it
leaves the root logger at WARNING, so our INFO lines (a worker ready, each image it
starts) would be dropped. :func:`log_to_worker_file` sends this package's lines there:
the record a user reads to see what each node did, and how a lost node's work is
counted (``rptui`` drivers connect with ``log_to_driver=False``, so nothing reaches the
terminal).
"""

from __future__ import annotations

import logging

PACKAGE_LOGGER = "cluster"
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_HANDLER_NAME = "rptui-worker-log"


def log_to_worker_file() -> None:
    """Log this package at INFO to stderr, once per process. Only for Ray worker
    processes: a driver's stderr is the user's terminal."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    if any(handler.get_name() == _HANDLER_NAME for handler in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(LINE_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
