"""The Ray implementation of the seam: the :class:`~cluster.api.Backend` over two actors.

``RayBackend(project)`` gets or creates the project's detached, named trainer and
segmenter actors in the connected namespace (see :mod:`cluster.head.connect`) and turns each
``Backend`` call into an awaited actor call with a timeout. It keeps what it sent to the
trainer (annotations as object-store refs, the newest model, whether training should
run): when the trainer answers with a new incarnation id, Ray has restarted it, and the
backend sends all of that again. ``close()`` leaves the actors running, so training
survives the app.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from cluster.api import (
    AnnotatedImage,
    EpochRecord,
    ModelSnapshot,
    Placement,
    Segmentation,
    SegmentationRequest,
    TrainerStatus,
    TrainingConfig,
)
from cluster.backends.segmenter_actor import Processed, SegmenterActor, segmenter_name
from cluster.backends.trainer_actor import TrainerActor, trainer_name
from cluster.head.placement import largest_node, placement_nodes

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 30.0
TASK_RETRIES = 3  # a call in flight when the actor dies is retried on the restarted one
TRAINER_CONCURRENCY = 8
SEGMENTER_CONCURRENCY = 16  # result() waits block a thread each
RESEND_BATCH = 16  # annotations per call when feeding a restarted trainer
TRAINER_CALL_TIMEOUT_S = 30.0  # the segmenter asking the trainer for a newer model


@dataclass(frozen=True)
class ActorShape:
    """Resources one actor asks Ray for."""

    num_cpus: float
    num_gpus: float = 0.0


def actor_shapes(node_cpus: float, node_gpus: float = 0.0) -> tuple[ActorShape, ActorShape]:
    """(trainer, segmenter) resources on a node: a share each, leaving room for the rest.

    The trainer takes half the CPUs, the segmenter a quarter (on 2 cores: 1 and 0.5,
    so batch work and the app keep half a core). One GPU is shared half and half;
    with two or more, each takes one.
    """
    trainer_cpus = max(min(1.0, node_cpus / 2), float(node_cpus // 2))
    segmenter_cpus = max(min(0.5, node_cpus / 4), float(node_cpus // 4))
    if node_gpus >= 2:
        gpus = (1.0, 1.0)
    elif node_gpus >= 1:
        gpus = (0.5, 0.5)
    else:
        gpus = (0.0, 0.0)
    return ActorShape(trainer_cpus, gpus[0]), ActorShape(segmenter_cpus, gpus[1])


class TrainerModels:
    """The segmenter actor's source of newer models: the project's named trainer actor.

    Called in the segmenter's process as ``newest_model(newer_than)``; the trainer is
    looked up by name there (in the segmenter's namespace) and again after any failure,
    so a restarted trainer is found. Pickles as its name alone.
    """

    def __init__(self, trainer: str) -> None:
        self.trainer = trainer
        self._handle: Any = None

    def __getstate__(self) -> dict[str, str]:
        return {"trainer": self.trainer}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.trainer = state["trainer"]
        self._handle = None

    def __call__(self, newer_than: int) -> ModelSnapshot | None:
        import ray

        try:
            if self._handle is None:
                namespace = ray.get_runtime_context().namespace
                self._handle = ray.get_actor(self.trainer, namespace=namespace)
            ref = self._handle.newest_model.remote(newer_than)
            return ray.get(ref, timeout=TRAINER_CALL_TIMEOUT_S)
        except Exception:
            self._handle = None  # look the trainer up again next time
            raise


async def _await(ref: Any, timeout: float) -> Any:
    """Await an ObjectRef from any event loop, up to ``timeout`` seconds."""
    return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout)


def _named_actor(
    cls: type, name: str, shape: ActorShape, concurrency: int, placement: Placement
) -> Any:
    """A detached, named, always-restarted threaded actor class, found again by name,
    on a node that ``placement`` allows."""
    import ray

    return ray.remote(cls).options(
        name=name,
        lifetime="detached",
        get_if_exists=True,
        max_restarts=-1,
        max_task_retries=TASK_RETRIES,
        max_concurrency=concurrency,
        num_cpus=shape.num_cpus,
        num_gpus=shape.num_gpus,
        resources=placement.actor_resources(),
    )


class RayBackend:
    """One project's trainer and segmenter actors behind the :class:`Backend` seam."""

    def __init__(
        self,
        project_name: str,
        *,
        start_model: ModelSnapshot | None = None,
        tile_size: int | None = None,
        segment_tile_size: int | None = None,
        tta: bool = True,
        call_timeout_s: float = CALL_TIMEOUT_S,
        shapes: tuple[ActorShape, ActorShape] | None = None,
        placement: Placement | None = None,
    ) -> None:
        import ray

        if not ray.is_initialized():
            raise RuntimeError("connect to Ray first (cluster.head.connect.connect)")
        self.project_name = project_name
        self.timeout_s = call_timeout_s
        self._tile_size = tile_size
        self.placement = placement or Placement.from_environment()
        trainer_shape, segmenter_shape = shapes or actor_shapes(*largest_node(self.placement))
        self.trainer = _named_actor(
            TrainerActor,
            trainer_name(project_name),
            trainer_shape,
            TRAINER_CONCURRENCY,
            self.placement,
        ).remote()
        self.segmenter = _named_actor(
            SegmenterActor,
            segmenter_name(project_name),
            segmenter_shape,
            SEGMENTER_CONCURRENCY,
            self.placement,
        ).remote(TrainerModels(trainer_name(project_name)), tile_size=segment_tile_size, tta=tta)
        self.incarnation: str | None = None
        self.restarts_seen = 0
        self._sent: dict[str, Any] = {}  # name -> ObjectRef of the AnnotatedImage sent
        self._config: TrainingConfig | None = None
        self._want_training = False
        self._newest = start_model
        self._last_epoch = 0
        if start_model is not None:
            self.segmenter.set_model.remote(start_model)

    async def _call(self, ref: Any, timeout: float | None = None) -> Any:
        try:
            return await _await(ref, self.timeout_s if timeout is None else timeout)
        except asyncio.TimeoutError:
            if self.placement.resource is not None:
                # The actors' node may be gone with no other to hold them: say so plainly
                # (raises ConnectError) instead of a bare timeout.
                await asyncio.to_thread(placement_nodes, self.placement)
            raise

    async def _seen(self, incarnation: str) -> None:
        """Note the trainer's incarnation; a new one means a restart: send everything again."""
        if self.incarnation is None or incarnation == self.incarnation:
            self.incarnation = incarnation
            return
        self.incarnation = incarnation
        self.restarts_seen += 1
        refs = list(self._sent.values())
        log.warning("the trainer restarted: sending %d annotations again", len(refs))
        for start in range(0, len(refs), RESEND_BATCH):
            batch = refs[start : start + RESEND_BATCH]
            await self._call(self.trainer.add_annotations.remote(*batch))
        if self._want_training and self._config is not None:
            await self._call(
                self.trainer.start_training.remote(self._config, self._newest, self._last_epoch)
            )

    # -- annotations -----------------------------------------------------------------------
    async def add_annotation(self, item: AnnotatedImage) -> None:
        import ray

        ref = await asyncio.to_thread(ray.put, item)
        self._sent[item.name] = ref
        await self._seen(await self._call(self.trainer.add_annotation.remote(ref)))

    async def remove_annotation(self, name: str) -> None:
        self._sent.pop(name, None)
        await self._seen(await self._call(self.trainer.remove_annotation.remote(name)))

    # -- training ------------------------------------------------------------------------------
    async def start_training(
        self, config: TrainingConfig, start_model: ModelSnapshot | None = None
    ) -> None:
        if config.tile_size is None and self._tile_size is not None:
            config = dataclasses.replace(config, tile_size=self._tile_size)
        self._config = config
        self._want_training = True
        if start_model is not None and (
            self._newest is None or start_model.version >= self._newest.version
        ):
            self._newest = start_model
            self.segmenter.set_model.remote(start_model)
        ref = self.trainer.start_training.remote(config, self._newest, self._last_epoch)
        await self._seen(await self._call(ref))

    async def stop_training(self) -> None:
        self._want_training = False
        await self._seen(await self._call(self.trainer.stop_training.remote()))

    async def status(self) -> TrainerStatus:
        incarnation, status = await self._call(self.trainer.status.remote())
        before = self.incarnation
        await self._seen(incarnation)
        if before is not None and before != incarnation:  # restarted: the counts after resend
            _, status = await self._call(self.trainer.status.remote())
        return status

    async def newest_model(self, newer_than: int = 0) -> ModelSnapshot | None:
        snapshot = await self._call(self.trainer.newest_model.remote(newer_than))
        if snapshot is not None:  # own the weights: object-store arrays are read-only
            weights = {key: np.array(value) for key, value in snapshot.state_dict.items()}
            snapshot = dataclasses.replace(snapshot, state_dict=weights)
        newest = self._newest.version if self._newest is not None else 0
        if snapshot is not None and snapshot.version > newest:
            self._newest = snapshot
        return snapshot

    async def epoch_log(self, since_epoch: int = 0) -> list[EpochRecord]:
        records: list[EpochRecord] = await self._call(self.trainer.epoch_log.remote(since_epoch))
        if records:
            self._last_epoch = max(self._last_epoch, records[-1].epoch)
        return records

    # -- segmentation --------------------------------------------------------------------------
    async def request_segmentation(self, request: SegmentationRequest) -> None:
        version = await self._call(self.segmenter.request.remote(request))
        if version == 0 and self._newest is not None:  # a new or restarted segmenter
            self.segmenter.set_model.remote(self._newest)

    async def cancel_segmentation(self, name: str) -> None:
        await self._call(self.segmenter.cancel.remote(name))

    async def segmentation(self, name: str, timeout: float) -> Segmentation | None:
        ref = self.segmenter.result.remote(name, timeout)
        return await self._call(ref, timeout + self.timeout_s)

    async def processed(self) -> list[Processed]:
        """The segmenter's finished requests, oldest first (for checks and debugging)."""
        return await self._call(self.segmenter.processed.remote())

    # -- lifetime ------------------------------------------------------------------------------
    async def close(self) -> None:
        """Forget this client's records; the actors keep running (training survives)."""
        self._sent.clear()

    async def end_actors(self) -> None:
        """Stop training and end both actors for good (they are not restarted)."""
        import ray

        try:
            await self.stop_training()
        finally:
            for handle in (self.trainer, self.segmenter):
                ray.kill(handle, no_restart=True)
            self._sent.clear()
