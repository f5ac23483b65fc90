"""Shared fixtures: one embedded Ray head for the whole test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cluster.head.connect import Connection, connect, disconnect, namespace_for
from cluster.head.embedded import stop
from cluster.head.head_files import token_path
from cluster.head.launch import HeadOptions, head_environment

SESSION_CPUS = 2
SESSION_STORE = 200 * 1024**2


@dataclass
class _RaySession:
    workspace: Path
    saved_environment: dict[str, str | None]
    connection: Connection | None = None

    def restore_environment(self) -> None:
        """Undo what connecting did to this process's Ray environment and auth settings."""
        from ray._raylet import AuthenticationTokenLoader, Config

        for name, value in self.saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


@pytest.fixture(scope="session")
def _ray_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_RaySession]:
    """The session's workspace; its head starts on first use and is stopped at the end."""
    workspace = tmp_path_factory.mktemp("ray-session")
    names = head_environment(token_path(workspace))
    state = _RaySession(workspace, {name: os.environ.get(name) for name in names})
    try:
        yield state
    finally:
        if state.connection is not None:
            disconnect()
            stop(workspace)
            state.restore_environment()


@pytest.fixture(scope="module")
def ray_session(_ray_state: _RaySession) -> Connection:
    """This process as a driver on the session's embedded head (2 CPUs, 200 MiB store).

    The head starts once per session; the driver reconnects only after a test module
    that needed no driver (``no_ray_driver``) disconnected it.
    """
    import ray

    connected = (
        _ray_state.connection is not None
        and ray.is_initialized()
        and ray.get_runtime_context().namespace == namespace_for(_ray_state.workspace)
    )
    if not connected:
        _ray_state.connection = connect(
            _ray_state.workspace,
            head_options=HeadOptions(num_cpus=SESSION_CPUS, object_store_memory=SESSION_STORE),
        )
    assert _ray_state.connection is not None
    return _ray_state.connection


@pytest.fixture(scope="module")
def no_ray_driver(_ray_state: _RaySession) -> None:
    """For modules that run heads of their own: no driver connection in this process."""
    import ray

    if ray.is_initialized():
        disconnect()
        _ray_state.restore_environment()
