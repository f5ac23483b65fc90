"""How an embedded head is launched: its options, loopback ports, environment and the
``ray start`` command the supervisor runs."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
IDLE_TIMEOUT_S = 2 * 3600.0
IDLE_CHECK_S = 30.0
PORT_PROBE_TIMEOUT_S = 1.0

# Flags of `ray start` that take a port; each gets a free loopback port of its own so the
# head never collides with (or joins) another Ray on the host. (No client server port:
# `ray start` refuses it without the ray[client] extra.)
PORT_FLAGS = (
    "port",
    "node-manager-port",
    "object-manager-port",
    "runtime-env-agent-port",
    "dashboard-agent-grpc-port",
    "dashboard-agent-listen-port",
    "metrics-export-port",
    "dashboard-port",
)


def head_environment(token_path: Path) -> dict[str, str]:
    """Environment variables that keep Ray on loopback with token auth on."""
    return {
        # Off: Ray keeps 127.0.0.1 instead of swapping in the machine's address.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token_path),
        "RAY_USAGE_STATS_ENABLED": "0",
        # A one-node head has nowhere to drain to: stop at once when told to.
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
    }


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout_s: float = PORT_PROBE_TIMEOUT_S) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class HeadOptions:
    """How a newly started embedded head is sized (a running head is reused as it is)."""

    num_cpus: int | None = None  # None: every core of the machine
    num_gpus: int | None = None  # None: what Ray detects
    object_store_memory: int | None = None  # bytes; None: Ray's default share of memory
    dashboard: bool = False
    idle_timeout_s: float = IDLE_TIMEOUT_S
    idle_check_s: float = IDLE_CHECK_S


@dataclass(frozen=True)
class LaunchSpec:
    """What the supervisor needs to start and watch a head (written to ``launch.json``)."""

    workspace: str
    state_dir: str
    temp_dir: str
    token_path: str
    num_cpus: int
    num_gpus: int | None
    object_store_memory: int | None
    dashboard: bool
    idle_timeout_s: float
    idle_check_s: float
    ports: dict[str, int]

    def ray_start_command(self) -> list[str]:
        """The `ray start` command line for this head."""
        ray = Path(sys.executable).with_name("ray")
        command = [str(ray) if ray.exists() else "ray", "start", "--head", "--block"]
        command += [f"--node-ip-address={LOOPBACK}", f"--temp-dir={self.temp_dir}"]
        command += [f"--{flag}={port}" for flag, port in self.ports.items()]
        command += [f"--num-cpus={self.num_cpus}", "--disable-usage-stats"]
        # Drivers connect with log_to_driver=False: nobody reads what a log monitor sends.
        command.append("--include-log-monitor=false")
        if self.num_gpus is not None:
            command.append(f"--num-gpus={self.num_gpus}")
        if self.object_store_memory is not None:
            command.append(f"--object-store-memory={self.object_store_memory}")
        if self.dashboard:
            command += ["--include-dashboard=true", f"--dashboard-host={LOOPBACK}"]
        else:
            command.append("--include-dashboard=false")
        return command
