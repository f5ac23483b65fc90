"""The background process that owns an embedded Ray head.

Run as ``python -m cluster.head.supervisor <launch.json>`` by
:func:`cluster.head.embedded.start_embedded`, in its own session. It runs
``ray start --head --block``, records the head in ``head.json`` once the GCS answers,
and stops the head on SIGTERM or after ``idle_timeout_s`` with no client connected and
no activity heartbeat.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from cluster.head.embedded import session_pids
from cluster.head.head_files import HEAD_FILE, LOG_DIR, RAY_START_LOG, HeadInfo
from cluster.head.launch import LOOPBACK, LaunchSpec, port_open
from cluster.head.status import alive_clients, gcs_client, last_heartbeat, node_resources
from cluster.io.atomic import write_text_atomic

logger = logging.getLogger("cluster.head.supervisor")

RAY_STOP_WAIT_S = 15.0
GCS_WAIT_S = 80.0
POLL_S = 0.2


class Supervisor:
    """Starts, watches and stops one head."""

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self.state_dir = Path(spec.state_dir)
        self.stopping = False
        self.ray: subprocess.Popen[bytes] | None = None

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping", signum)
        self.stopping = True

    def start_ray(self) -> HeadInfo | None:
        """Run `ray start --block`; return the head once its GCS accepts connections."""
        command = self.spec.ray_start_command()
        logger.info("running %s", " ".join(command))
        with open(self.state_dir / LOG_DIR / RAY_START_LOG, "ab") as log:
            self.ray = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        port = self.spec.ports["port"]
        deadline = time.monotonic() + GCS_WAIT_S
        while not port_open(LOOPBACK, port):
            if self.ray.poll() is not None or self.stopping:
                return None
            if time.monotonic() > deadline:
                logger.error("GCS did not answer on port %d", port)
                return None
            time.sleep(POLL_S / 2)
        client = gcs_client(f"{LOOPBACK}:{port}", Path(self.spec.token_path))
        while not node_resources(client):  # wait for the raylet to register
            if self.ray.poll() is not None or self.stopping:
                return None
            if time.monotonic() > deadline:
                logger.error("no Ray node registered with the GCS")
                return None
            time.sleep(POLL_S / 2)
        dashboard = self.spec.ports["dashboard-port"] if self.spec.dashboard else None
        return HeadInfo(
            address=f"{LOOPBACK}:{port}",
            supervisor_pid=os.getpid(),
            ray_pid=self.ray.pid,
            temp_dir=self.spec.temp_dir,
            log_dir=str(self.state_dir / LOG_DIR),
            started_at=time.time(),
            num_cpus=self.spec.num_cpus,
            idle_timeout_s=self.spec.idle_timeout_s,
            ports=dict(self.spec.ports),
            dashboard_url=f"http://{LOOPBACK}:{dashboard}" if dashboard else None,
        )

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless a stop is asked for; False once it is."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(POLL_S, seconds))
        return not self.stopping

    def watch(self, head: HeadInfo) -> None:
        """Return when the head died, a stop was asked for, or it sat idle too long."""
        client = gcs_client(head.address, Path(self.spec.token_path))
        last_active = head.started_at
        while self._sleep(self.spec.idle_check_s):
            if self.ray is None or self.ray.poll() is not None:
                logger.error("ray exited unexpectedly")
                return
            try:
                if alive_clients(client):
                    last_active = time.time()
                last_active = max(last_active, last_heartbeat(client))
            except Exception:  # a GCS hiccup must not kill the head; try again later
                logger.exception("could not read the head's state")
                continue
            idle = time.time() - last_active
            if idle > self.spec.idle_timeout_s:
                logger.info("idle for %.0f s: stopping the head", idle)
                return

    def shutdown(self) -> None:
        """Stop ray (it stops its own processes), then kill anything of ours left over."""
        if self.ray is not None and self.ray.poll() is None:
            self.ray.send_signal(signal.SIGTERM)
            try:
                self.ray.wait(RAY_STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                logger.warning("ray did not stop within %.0f s: killing it", RAY_STOP_WAIT_S)
        for pid in session_pids(os.getsid(0)):
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.ray is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.ray.wait(5)
        self._forget_head()
        shutil.rmtree(self.spec.temp_dir, ignore_errors=True)
        logger.info("head stopped")

    def _forget_head(self) -> None:
        path = self.state_dir / HEAD_FILE
        with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
            if HeadInfo.from_json(path.read_text()).supervisor_pid == os.getpid():
                path.unlink()

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # outlive a dropped SSH session
        try:
            head = self.start_ray()
            if head is None:
                return 1
            write_text_atomic(self.state_dir / HEAD_FILE, head.to_json())
            logger.info("head up at %s", head.address)
            self.watch(head)
            return 0
        finally:
            self.shutdown()


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    spec = LaunchSpec(**json.loads(Path(argv[1]).read_text()))
    return Supervisor(spec).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
