"""Connecting this process to Ray: the workspace's embedded head, or a given cluster.

No address (and no ``RAY_ADDRESS``) means the embedded head of
:mod:`cluster.head.embedded`, started in the background on first use. An address means that
cluster; an unreachable one fails fast with :class:`ConnectError`. Either way, named
detached actors live in :func:`namespace_for` the workspace, and Ray's output goes to
log files, never to this process's terminal.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cluster.head.embedded import find_head, start_embedded
from cluster.head.head_files import HeadInfo, token_path, workspace_key
from cluster.head.launch import HeadOptions, head_environment
from cluster.head.private_dirs import check_private_child

logger = logging.getLogger(__name__)

T = TypeVar("T")

ADDRESS_ENV = "RAY_ADDRESS"
REACH_TIMEOUT_S = 5.0
NAMESPACE_PREFIX = "rptui-"
CLIENT_SCHEME = "ray://"
DEFAULT_GCS_PORT = 6379
LOG_MODE = 0o600  # what Ray prints may name paths and hosts: the owner only
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray keeps loopback addresses


class ConnectError(RuntimeError):
    """Ray could not be reached or started; the message says why, in one line."""


@dataclass(frozen=True)
class Connection:
    """Where this process is connected."""

    address: str
    namespace: str
    embedded: bool
    head: HeadInfo | None = None  # the embedded head, when embedded


def namespace_for(workspace: Path) -> str:
    """The Ray namespace of a workspace: stable across processes, from its resolved path."""
    return NAMESPACE_PREFIX + workspace_key(workspace)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (optionally ``ray://``) as (host, port).

    Raises:
        ConnectError: the address is not of that form.
    """
    bare = address.removeprefix(CLIENT_SCHEME)
    host, sep, port = bare.rpartition(":")
    if not sep:
        host, port = bare, str(DEFAULT_GCS_PORT)
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise ConnectError(f"not a Ray address (expected HOST:PORT): {address!r}")
    return host, int(port)


def check_reachable(address: str, *, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Raise :class:`ConnectError` unless something accepts TCP connections at ``address``."""
    import socket

    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except TimeoutError:
        reason = f"no answer within {timeout_s:.0f} s"
    except OSError as error:
        reason = error.strerror or str(error)
        if isinstance(error, ConnectionRefusedError):
            reason = "connection refused"
    raise ConnectError(f"cannot reach Ray at {host}:{port}: {reason}")


class NoAnswerInTime(Exception):
    """A call made by :func:`within` did not return in time."""


def within(call: Callable[[], T], timeout_s: float) -> T:
    """``call()`` on a daemon thread: its result, or its exception raised here.

    Ray's clients wait a long time for a GCS that does not answer; this bounds the wait
    (the thread is left to finish on its own).

    Raises:
        NoAnswerInTime: ``call`` took longer than ``timeout_s``.
    """
    outcome: list[tuple[T | None, BaseException | None]] = []

    def run() -> None:
        try:
            outcome.append((call(), None))
        except Exception as error:  # handed to the caller below
            outcome.append((None, error))

    worker = threading.Thread(target=run, name="bounded-call", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        raise NoAnswerInTime(f"no answer within {timeout_s:.0f} s")
    result, error = outcome[0]
    if error is not None:
        raise error
    return result  # type: ignore[return-value]


def check_gcs(address: str, *, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """Raise :class:`ConnectError` unless a Ray GCS that accepts us answers at ``address``.

    Catches what a port check cannot (a proxy or another service on the port, a token
    the cluster refuses) in milliseconds, where ``ray.init`` would retry for ~20 s.
    """
    if address.startswith(CLIENT_SCHEME):
        return  # Ray Client speaks its own protocol; ray.init reports its errors
    from ray._raylet import GcsClient

    try:
        within(lambda: GcsClient(address=address), timeout_s)
    except NoAnswerInTime as error:
        raise ConnectError(f"Ray at {address} did not answer within {timeout_s:.0f} s") from error
    except Exception as error:  # any failure means: not a Ray we can use
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "auth" in text.lower() or "token" in text.lower():
            raise ConnectError(
                f"Ray at {address} refused our token ({text}): set RAY_AUTH_TOKEN"
            ) from error
        raise ConnectError(f"no Ray cluster answers at {address}: {text}") from error


def use_embedded_environment(workspace: Path) -> None:
    """Point this process at the embedded head: loopback only, the workspace's token."""
    import ray._private.ray_constants as ray_constants
    from ray._raylet import AuthenticationTokenLoader, Config

    os.environ.update(head_environment(token_path(workspace)))
    # Read by Ray when it is imported; without it a driver rewrites 127.0.0.1 into the
    # machine's address and never reaches a loopback-only head.
    ray_constants.ENABLE_RAY_CLUSTER = False
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def is_loopback(address: str) -> bool:
    """Whether a Ray address names this machine's loopback (``127.x``, ``localhost``, ``::1``)."""
    import ipaddress

    host, _ = split_address(address)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keep_loopback() -> None:
    """Join a cluster on loopback as it is: without this, Ray swaps ``127.0.0.1`` for the
    machine's network address, where a loopback-only head does not listen."""
    import ray._private.ray_constants as ray_constants

    os.environ[LOOPBACK_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def _init(address: str, namespace: str) -> None:
    import ray

    ray.init(
        address=address,
        namespace=namespace,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    # Errors the cluster pushes to a driver ("(raylet) ... killed by ray.kill" when a batch
    # run is cancelled) are printed on stdout even so: the head's own logs keep them.
    ray._private.worker._worker_logs_enabled = False


def connect(
    workspace: Path,
    address: str | None = None,
    *,
    start: bool = True,
    head_options: HeadOptions | None = None,
    reach_timeout_s: float = REACH_TIMEOUT_S,
) -> Connection:
    """Connect this process to Ray as a driver in the workspace's namespace.

    Args:
        workspace: the workspace root; names the namespace and holds the embedded head.
        address: a cluster to join; None means ``RAY_ADDRESS``, else the embedded head.
        start: start the embedded head when none runs (False: raise instead).
        head_options: how a newly started embedded head is sized (default: the whole
            machine, no dashboard).
        reach_timeout_s: how long to wait for a given address to accept a connection.

    Raises:
        ConnectError: the address is unreachable, or no head runs and ``start`` is False,
            or the embedded head failed to start.
    """
    import ray

    namespace = namespace_for(workspace)
    address = address or os.environ.get(ADDRESS_ENV) or None
    if address is None:
        head = find_head(workspace)
        if head is None and not start:
            raise ConnectError(f"no embedded Ray runs for workspace {workspace}")
        try:
            if head is None:
                head = start_embedded(workspace, head_options)
            check_private_child(Path(head.temp_dir))
        except RuntimeError as error:
            raise ConnectError(str(error)) from error
        connection = Connection(head.address, namespace, embedded=True, head=head)
    else:
        check_reachable(address, timeout_s=reach_timeout_s)
        check_gcs(address, timeout_s=reach_timeout_s)
        connection = Connection(address, namespace, embedded=False)
    if ray.is_initialized():
        ray.shutdown()
    if connection.embedded:
        use_embedded_environment(workspace)
    elif is_loopback(connection.address):
        keep_loopback()
    started = time.monotonic()
    try:
        _init(connection.address, namespace)
    except ConnectionError as error:
        raise ConnectError(f"cannot connect to Ray at {connection.address}: {error}") from error
    logger.info("connected to %s in %.1f s", connection.address, time.monotonic() - started)
    return connection


def disconnect() -> None:
    """Leave the cluster (the embedded head and its detached actors keep running)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()


def divert_native_stderr(log_path: Path) -> None:
    """Send file descriptor 2 to ``log_path``, keeping ``sys.__stderr__`` on the terminal.

    Ray's C++ core writes warnings straight to fd 2, and Textual draws on
    ``sys.__stderr__``: call this before connecting while an app runs, so the app keeps
    the terminal and Ray's native output lands in the log.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal = os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, LOG_MODE)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    terminal_file = os.fdopen(terminal, "w", buffering=1, encoding="utf-8", errors="replace")
    if sys.stderr is sys.__stderr__:
        sys.stderr = terminal_file
    sys.__stderr__ = terminal_file  # type: ignore[misc]  # typeshed calls it Final; it is not
