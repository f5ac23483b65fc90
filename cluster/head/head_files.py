"""The embedded head's files in a workspace: the private ``.ray`` folder, the auth token,
the head record (``head.json``) and Ray's temp dir."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from cluster.head.private_dirs import PRIVATE_MODE, private_parent
from cluster.io.atomic import write_bytes_atomic

logger = logging.getLogger(__name__)

STATE_DIR = ".ray"  # inside the workspace
HEAD_FILE = "head.json"
LAUNCH_FILE = "launch.json"
TOKEN_FILE = "auth_token"
LOCK_FILE = "start.lock"
LOG_DIR = "logs"
SUPERVISOR_LOG = "supervisor.log"
RAY_START_LOG = "ray-start.log"


def workspace_key(workspace: Path) -> str:
    """A short stable hash of the resolved workspace path."""
    resolved = str(Path(workspace).expanduser().resolve())
    return hashlib.sha256(resolved.encode()).hexdigest()[:12]


def state_dir(workspace: Path) -> Path:
    return Path(workspace).expanduser().resolve() / STATE_DIR


def token_path(workspace: Path) -> Path:
    return state_dir(workspace) / TOKEN_FILE


def ray_temp_dir(workspace: Path) -> Path:
    """Ray's temp dir of a workspace: short (Unix socket paths are limited to ~107 bytes),
    inside this user's private folder (:mod:`cluster.head.private_dirs`)."""
    return private_parent() / workspace_key(workspace)


def ensure_state_dir(workspace: Path) -> Path:
    """The workspace's ``.ray`` folder (token, head record, logs), closed to other users."""
    directory = state_dir(workspace)
    (directory / LOG_DIR).mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    directory.chmod(PRIVATE_MODE)
    return directory


def ensure_token(workspace: Path) -> Path:
    """The workspace's Ray auth token file (readable by the owner only), made if missing."""
    path = token_path(workspace)
    if not path.exists():
        ensure_state_dir(workspace)
        write_bytes_atomic(path, secrets.token_hex(32).encode(), mode=0o600)
    return path


@dataclass(frozen=True)
class HeadInfo:
    """What ``head.json`` records about a running embedded head."""

    address: str  # GCS address, host:port
    supervisor_pid: int  # also the session id of every process of the head
    ray_pid: int  # the `ray start --block` process
    temp_dir: str
    log_dir: str
    started_at: float
    num_cpus: int
    idle_timeout_s: float
    ports: dict[str, int]
    dashboard_url: str | None = None

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> HeadInfo:
        return cls(**json.loads(text))


def read_head(workspace: Path) -> HeadInfo | None:
    """The recorded head of a workspace, if any (not checked for liveness)."""
    path = state_dir(workspace) / HEAD_FILE
    try:
        return HeadInfo.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as error:
        logger.warning("ignoring unreadable %s: %s", path, error)
        return None
