"""What runs on a workspace's embedded Ray head, read from its GCS without joining as a driver.

Also the activity heartbeat (``touch_activity``) that keeps an idle head alive while a
trainer works with no client connected.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster.head.connect import NAMESPACE_PREFIX, ConnectError, NoAnswerInTime, within
from cluster.head.embedded import ACTIVITY_KV_KEY, ACTIVITY_KV_NAMESPACE, find_head
from cluster.head.head_files import HeadInfo, token_path
from cluster.head.launch import head_environment
from cluster.head.trainer_report import TrainerReport, read_trainer_reports

logger = logging.getLogger(__name__)

GCS_TIMEOUT_S = 5.0
LIVE_STATES = ("ALIVE", "RESTARTING", "PENDING_CREATION", "DEPENDENCIES_UNREADY")
SHOWN_RESOURCES = ("CPU", "GPU")


@dataclass(frozen=True)
class ActorInfo:
    """A named actor on the head."""

    name: str
    namespace: str
    class_name: str
    state: str  # ALIVE, RESTARTING, DEAD, PENDING_CREATION, DEPENDENCIES_UNREADY
    pid: int
    detached: bool
    resources: dict[str, float] = field(default_factory=dict)  # what it holds (or asks for)

    @property
    def live(self) -> bool:
        """Alive, or on its way to be (finished actors are not)."""
        return self.state in LIVE_STATES

    @property
    def ours(self) -> bool:
        """One of a workspace's actors (not one Ray Data keeps for itself)."""
        return self.namespace.startswith(NAMESPACE_PREFIX)


@dataclass(frozen=True)
class HeadStatus:
    """A running embedded head and what runs on it."""

    head: HeadInfo
    uptime_s: float
    resources: dict[str, float]
    clients: int  # drivers connected now
    last_activity: float  # unix time of the last client or heartbeat seen
    actors: list[ActorInfo] = field(default_factory=list)
    trainers: dict[tuple[str, str], TrainerReport] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.head.address

    @property
    def pid(self) -> int:
        return self.head.supervisor_pid

    @property
    def idle_s(self) -> float:
        return 0.0 if self.clients else max(0.0, time.time() - self.last_activity)

    def report(self, actor: ActorInfo) -> TrainerReport | None:
        """What a live trainer actor last published (None for other actors)."""
        return self.trainers.get((actor.namespace, actor.name)) if actor.live else None

    def training(self) -> list[ActorInfo]:
        """The live trainers that train now."""
        return [
            actor
            for actor in self.actors
            if (report := self.report(actor)) is not None and report.training
        ]

    def lines(self) -> list[str]:
        """A few lines for ``rptui status``: the head, what keeps it busy, its live actors."""
        resources = resource_text(self.resources)
        head = (
            f"embedded Ray at {self.address} (pid {self.pid}), up {_duration(self.uptime_s)}, "
            f"{resources}; {self.clients} client(s) connected"
        )
        timeout = _duration(self.head.idle_timeout_s)
        stops = f"stops itself after {timeout} with no client and no training"
        training = self.training()
        if training:
            names = ", ".join(actor.name for actor in training)
            activity = f"busy: training ({names}); {stops}"
        elif self.clients:
            activity = f"in use, not training; {stops}"
        else:
            activity = f"idle {_duration(self.idle_s)}: no client, no training; {stops}"
        shown = [actor for actor in self.actors if actor.live and actor.ours]
        actors = [self._actor_line(actor) for actor in shown]
        hidden = len(self.actors) - len(shown)
        if hidden:
            actors.append(f"  ({hidden} finished or Ray's own actor(s) not shown)")
        return [head, activity, *(actors or ["  no named actors"])]

    def _actor_line(self, actor: ActorInfo) -> str:
        holds = resource_text(actor.resources)
        holds = f", {holds}" if holds else ""
        line = f"  {actor.name} ({actor.class_name}) {actor.state.lower()}, pid {actor.pid}{holds}"
        report = self.report(actor)
        return f"{line}: {report.describe()}" if report is not None else line


def resource_text(resources: dict[str, float]) -> str:
    """CPUs and GPUs as ``CPU 2, GPU 1`` ('' when none)."""
    shown = [name for name in SHOWN_RESOURCES if resources.get(name)]
    return ", ".join(f"{name} {resources[name]:g}" for name in shown)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _reload_auth() -> None:
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def gcs_client(address: str, token_file: Path) -> Any:
    """A GCS client for a token-auth head on loopback (sets this process's auth env)."""
    from ray._raylet import GcsClient

    os.environ.update(head_environment(token_file))
    _reload_auth()
    return GcsClient(address=address)


def client_in_time(address: str, token_file: Path, *, timeout_s: float = GCS_TIMEOUT_S) -> Any:
    """:func:`gcs_client`, given up after ``timeout_s`` when the head's GCS is stopped or
    hung (Ray itself waits about a minute).

    Raises:
        ConnectError: the GCS did not answer in time.
    """
    try:
        return within(lambda: gcs_client(address, token_file), timeout_s)
    except NoAnswerInTime as error:
        raise ConnectError(str(error)) from error


@contextlib.contextmanager
def head_client(address: str, token_file: Path) -> Iterator[Any]:
    """A GCS client whose auth settings are undone afterwards (when Ray is not in use)."""
    import ray

    if ray.is_initialized():  # a driver already holds this process's auth settings
        yield client_in_time(address, token_file)
        return
    saved = {name: os.environ.get(name) for name in head_environment(token_file)}
    try:
        yield client_in_time(address, token_file)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reload_auth()


def alive_clients(client: Any) -> int:
    """How many drivers (jobs) are connected to the head now."""
    jobs = client.get_all_job_info(skip_submission_job_info_field=True, timeout=GCS_TIMEOUT_S)
    return sum(1 for job in jobs.values() if not job.is_dead)


def last_heartbeat(client: Any) -> float:
    """Unix time of the last ``touch_activity`` call, 0.0 if none."""
    value = client.internal_kv_get(
        ACTIVITY_KV_KEY, namespace=ACTIVITY_KV_NAMESPACE, timeout=GCS_TIMEOUT_S
    )
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


def named_actors(client: Any, namespace: str | None = None) -> list[ActorInfo]:
    """Named actors on the head, live ones first; only ``namespace``'s when given."""

    async def fetch() -> dict[Any, Any]:
        return await client.async_get_all_actor_info(timeout=GCS_TIMEOUT_S)

    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop here: run one
        table = asyncio.run(fetch())
    else:  # called from async code (the app): run the query on a loop of its own
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            table = pool.submit(asyncio.run, fetch()).result()
    actors = []
    for data in table.values():
        if not data.name or (namespace is not None and data.ray_namespace != namespace):
            continue
        state = type(data).DESCRIPTOR.fields_by_name["state"].enum_type
        actors.append(
            ActorInfo(
                name=data.name,
                namespace=data.ray_namespace,
                class_name=data.class_name,
                state=state.values_by_number[data.state].name,
                pid=int(data.pid),
                detached=bool(data.is_detached),
                resources={str(k): float(v) for k, v in data.required_resources.items()},
            )
        )
    return sorted(actors, key=lambda actor: (actor.state != "ALIVE", actor.name))


def node_resources(client: Any) -> dict[str, float]:
    """Total resources of the head's live nodes (CPU, GPU, memory, object store)."""
    totals: dict[str, float] = {}
    for node in client.get_all_node_info(timeout=GCS_TIMEOUT_S).values():
        if node.state != 0:  # ALIVE
            continue
        for name, amount in node.resources_total.items():
            if not name.startswith("node:"):
                totals[name] = totals.get(name, 0.0) + float(amount)
    return totals


def status(workspace: Path, *, namespace: str | None = None) -> HeadStatus | None:
    """The workspace's embedded head and what runs on it; None when none runs.

    Raises:
        ConnectError: the head runs but its GCS does not answer.
    """
    head = find_head(workspace)
    if head is None:
        return None
    from ray.exceptions import RayError

    try:
        with head_client(head.address, token_path(workspace)) as client:
            clients = alive_clients(client)
            heartbeat = last_heartbeat(client)
            return HeadStatus(
                head=head,
                uptime_s=time.time() - head.started_at,
                resources=node_resources(client),
                clients=clients,
                last_activity=time.time() if clients else max(head.started_at, heartbeat),
                actors=named_actors(client, namespace),
                trainers=read_trainer_reports(client),
            )
    except (RayError, ConnectError) as error:  # the process is there, its GCS silent
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        raise ConnectError(
            f"the embedded Ray at {head.address} (pid {head.supervisor_pid}) does not answer "
            f"({reason[:120]}): it may be stopped or overloaded; `rptui stop` ends it"
        ) from error


def touch_activity() -> None:
    """Record that work is going on (call from a driver or an actor, e.g. each epoch).

    An embedded head stops itself only after ``idle_timeout_s`` with no client connected
    and no heartbeat. Does nothing when Ray is not initialised.
    """
    import ray
    from ray.experimental import internal_kv

    if not ray.is_initialized():
        return
    internal_kv._internal_kv_put(
        ACTIVITY_KV_KEY, str(time.time()).encode(), namespace=ACTIVITY_KV_NAMESPACE
    )
