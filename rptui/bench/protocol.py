"""The bench loop: a simulated user works through the project while the model trains.

It follows the app step by step: the image's segmentation is asked for with the
app's priorities (the image on screen at 0, the next ``pre_segment`` images after it)
and awaited from the segmenter; accepted labels are saved into the project (which
fixes their split by the project's rule, and logs corrective metrics) and sent to the
trainer; new models and epoch records are pulled into the project as they come.

Corrective strategy (the paper's protocol): clear examples first, with training from
the second image on, until the model shown is trained and either confident (see
:mod:`rptui.bench.annotator`) or ``max_clear_examples`` images were labelled (with no trained
model yet, the user waits for one while training runs, up to one more epoch, and
otherwise paints another clear example: correcting an untrained model's output would be
dense annotation at corrective cost); then corrections only, skipping
images without errors. Pre-segment is 0 while clear examples are labelled, 1 once a
model is shown, and 2 after ``PRESEGMENT_TWO_AFTER`` images with a model shown. Dense
strategy: every image labelled fully, with the same pre-segment steps once training runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    Backend,
    Segmentation,
    SegmentationRequest,
    TrainerState,
    TrainerStatus,
    TrainingConfig,
)
from cluster.io.images import read_image
from cluster.training.validate import confusion
from rptui.bench.annotator import CONFIDENT, SimulatedUser, UserAction, confidence
from rptui.bench.options import BenchOptions
from rptui.bench.pairs import load_truth
from rptui.bench.project_setup import BenchProject
from rptui.bench.records import ImageRecord
from rptui.session.order import ORDER_SETTING
from rptui.session.review import ReviewSession
from rptui.session.serve_order import SegmentationTimeout, await_segmentation
from rptui.session.training import TrainingSync, ensure_start_model
from rptui.store.annotation import Annotation

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 60.0  # any backend call
SEGMENT_GIVE_UP_S = 900.0  # no segmentation for this long: the segmenter is broken
SEGMENT_ASK_AGAIN_S = 15.0  # no segmentation yet: the image on screen is asked for again
TRAINED_MODEL_POLL_S = 1.0  # how often a user done with clear examples looks for a model
SYNC_INTERVAL_S = 2.0
FINISH_POLL_S = 1.0
MIN_CLEAR_EXAMPLES = 2  # training needs one validation and one training image
PRESEGMENT_TWO_AFTER = 3
ENDED = (TrainerState.FINISHED, TrainerState.FAILED)

T = TypeVar("T")


SegmenterTimeout = SegmentationTimeout  # nothing for an image in SEGMENT_GIVE_UP_S


def apply_labels(annotation: Annotation, labels: np.ndarray) -> None:
    """Paint ``labels`` over the annotation as one undo step (unlabelled pixels untouched)."""
    with annotation.stroke():
        for value in (BACKGROUND, FOREGROUND):
            annotation.fill_mask(labels == value, value=value)


@dataclass
class Totals:
    """Running sums over the images seen so far."""

    mouse_seconds: float = 0.0
    keyboard_seconds: float = 0.0
    annotated_px: int = 0
    clear_examples: int = 0
    shown_model: int = 0  # images annotated with a model shown (pre-segment steps)


@dataclass
class BenchResult:
    """What the loop did."""

    records: list[ImageRecord] = field(default_factory=list)
    started: float = 0.0  # unix time
    training_started: bool = False
    final_status: TrainerStatus | None = None
    start_version: int = 1


class BenchProtocol:
    """Runs one bench: the user loop, then lets training finish (bounded)."""

    def __init__(
        self,
        bench: BenchProject,
        backend: Backend,
        options: BenchOptions,
        *,
        config: TrainingConfig,
        on_record: Callable[[ImageRecord, int], None] | None = None,
    ) -> None:
        self.bench = bench
        self.project = bench.project
        self.backend = backend
        self.options = options
        self.config = config
        self.on_record = on_record
        self.user = SimulatedUser(seed=options.seed)
        self.totals = Totals()
        self.result = BenchResult()
        self.phase = "clear" if options.strategy == "corrective" else "dense"
        self.sync: TrainingSync | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_stop = asyncio.Event()

    # -- the backend, as the app calls it ------------------------------------------------------
    async def _call(self, call: Awaitable[T], timeout: float = CALL_TIMEOUT_S) -> T:
        return await asyncio.wait_for(call, timeout)

    async def fetch_segmentation(self, session: ReviewSession) -> Segmentation:
        """Ask for the image on screen and the next ones as the app does; await this one.

        The first result is taken, whichever model made it (the app shows it at once too);
        a request lost meanwhile is asked for again (see ``await_segmentation``).
        """
        plan = session.presegment_plan()
        for name in plan.cancels:
            await self._call(self.backend.cancel_segmentation(name))
        current: SegmentationRequest | None = None
        for index, priority in plan.requests:
            if index == session.index:
                image = session.image
            else:
                image = await asyncio.to_thread(read_image, self.project.image_path(index))
            request = SegmentationRequest(self.project.stem(index), image, priority)
            await self._call(self.backend.request_segmentation(request))
            current = request if index == session.index else current
        if current is None:
            raise SegmenterTimeout(f"{session.stem} cannot be segmented: {session.problem}")
        result = await await_segmentation(
            self.backend,
            current,
            give_up_s=SEGMENT_GIVE_UP_S,
            call=self._call,
            ask_again_s=SEGMENT_ASK_AGAIN_S,
            call_timeout_s=CALL_TIMEOUT_S,
        )
        assert result is not None  # the image stays on screen until a result or the timeout
        return result

    def _waits_for_a_trained_model(self, shown: Segmentation) -> bool:
        """Clear examples are done but training has not yet saved a model to correct."""
        return (
            self.phase == "clear"
            and self.result.training_started
            and self.totals.clear_examples >= self.options.max_clear_examples
            and shown.model_version <= self.result.start_version
        )

    async def _wait_for_a_trained_model(
        self, session: ReviewSession, shown: Segmentation, deadline: float
    ) -> Segmentation:
        """Wait (as the user would) for the first trained model, then its segmentation.

        The wait lasts while training runs, at most until one more epoch ends (an epoch
        that saved no better model leaves the user painting another clear example) or
        the session's time is up; ``shown`` comes back when no trained model came.
        """
        log.info("clear examples done; waiting for the first trained model")
        first_epoch: int | None = None
        while True:
            status = await self._call(self.backend.status())
            if status.model_version > self.result.start_version:
                break
            first_epoch = status.epoch if first_epoch is None else first_epoch
            running = status.state == TrainerState.TRAINING
            if not running or status.epoch > first_epoch or time.monotonic() >= deadline:
                return shown
            await asyncio.sleep(TRAINED_MODEL_POLL_S)
        request = SegmentationRequest(session.stem, session.image, 0)
        await self._call(self.backend.request_segmentation(request))
        result = await await_segmentation(
            self.backend,
            request,
            give_up_s=SEGMENT_GIVE_UP_S,
            want_version=lambda: status.model_version,
            call=self._call,
            ask_again_s=SEGMENT_ASK_AGAIN_S,
            call_timeout_s=CALL_TIMEOUT_S,
        )
        return shown if result is None else result

    async def collect_scores(self, session: ReviewSession) -> int:
        """Take in the results asked for only to score images (uncertain order), as the app."""
        received = 0
        for name in session.scoring_names():
            result = await self._call(self.backend.segmentation(name, 0.0))
            if result is not None:
                await asyncio.to_thread(session.receive_segmentation, result)
                received += 1
        return received

    async def _sync_forever(self) -> None:
        """Pull new models and epoch records every SYNC_INTERVAL_S until asked to stop."""
        assert self.sync is not None
        while not self._sync_stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sync_stop.wait(), SYNC_INTERVAL_S)
            try:
                await self._call(self.sync.pull())
            except (TimeoutError, OSError) as error:  # the next pull tries again
                log.warning("training sync failed: %s", error)

    async def _stop_sync(self) -> None:
        """End the sync task after its current pull (never in the middle of a write)."""
        if self._sync_task is not None:
            self._sync_stop.set()
            await self._sync_task
            self._sync_task = None

    async def _start_training_if_ready(self) -> None:
        splits = set(self.project.config.splits.values())
        if self.result.training_started or not {"train", "val"} <= splits:
            return
        start = await asyncio.to_thread(ensure_start_model, self.project)
        self.sync = TrainingSync(self.project, self.backend, model_version=start.version)
        await self._call(self.backend.start_training(self.config, start))
        self.result.training_started = True
        self._sync_task = asyncio.create_task(self._sync_forever())
        log.info("training started with %d annotations", len(self.project.config.splits))

    # -- the user --------------------------------------------------------------------------------
    def _pre_segment(self) -> int:
        if self.phase == "clear" or not self.result.training_started:
            return 0
        return 1 if self.totals.shown_model < PRESEGMENT_TWO_AFTER else 2

    def _choose_action(
        self, session: ReviewSession, truth: np.ndarray, shown: Segmentation, sure: float
    ) -> UserAction:
        if self.phase == "clear":
            trained = shown.model_version > self.result.start_version
            done = self.totals.clear_examples
            enough = done >= self.options.max_clear_examples or sure > CONFIDENT
            if trained and done >= MIN_CLEAR_EXAMPLES and enough:
                self.phase = "corrective"
                log.info("confident (%.3f) after %d clear examples: corrections now", sure, done)
        if self.phase == "clear":
            return self.user.clear_examples(truth, np.array(session.annotation.labels))
        if self.phase == "corrective":
            predicted = np.asarray(shown.mask) > 0
            return self.user.corrections(truth, predicted, np.array(session.annotation.labels))
        return self.user.dense(truth)

    async def _pace(self, action: UserAction, deadline: float) -> None:
        """Wait as long as the simulated user would have worked (``--pace``)."""
        if self.options.pace == "none":
            return
        seconds = action.mouse_seconds if self.options.pace == "mouse" else action.keyboard_seconds
        await asyncio.sleep(max(0.0, min(seconds, deadline - time.monotonic())))

    async def annotate_one(self, session: ReviewSession, deadline: float, t0: float) -> None:
        """The simulated user's turn on the image on screen."""
        index, stem = session.index, session.stem
        started = time.monotonic()
        self.project.config.settings["pre_segment"] = self._pre_segment()
        shown = await self.fetch_segmentation(session)
        if self._waits_for_a_trained_model(shown):
            shown = await self._wait_for_a_trained_model(session, shown, deadline)
        session.receive_segmentation(shown)
        await self.collect_scores(session)
        truth = await asyncio.to_thread(load_truth, self.bench.pair_at(index))
        live = confusion(np.asarray(shown.mask) > 0, truth.astype(np.uint8) + 1)
        sure = confidence(shown.probability)
        action = await asyncio.to_thread(self._choose_action, session, truth, shown, sure)
        phase = self.phase
        accepted = phase != "corrective" or action.error_regions > 0
        await self._pace(action, deadline)
        split = ""
        await self.collect_scores(session)  # the next image is chosen from the scores
        if accepted:
            apply_labels(session.annotation, action.labels)
            item = await asyncio.to_thread(session.accept)
            if item is not None:
                await self._call(self.backend.add_annotation(item))
                split = item.split
            await self._start_training_if_ready()
        else:
            session.skip()
        fg = int(np.count_nonzero(action.labels == FOREGROUND)) if accepted else 0
        bg = int(np.count_nonzero(action.labels == BACKGROUND)) if accepted else 0
        t = self.totals
        t.mouse_seconds += action.mouse_seconds
        t.keyboard_seconds += action.keyboard_seconds
        t.annotated_px += fg + bg
        t.clear_examples += phase == "clear" and accepted
        t.shown_model += phase != "clear" and self.result.training_started
        now = time.monotonic()
        record = ImageRecord(
            index=index,
            image=stem,
            phase=phase,
            pre_segment=int(self.project.config.settings["pre_segment"]),
            time=time.time(),
            wall_seconds=now - t0,
            image_wall_seconds=now - started,
            mouse_seconds=action.mouse_seconds,
            keyboard_seconds=action.keyboard_seconds,
            total_mouse_seconds=t.mouse_seconds,
            total_keyboard_seconds=t.keyboard_seconds,
            annotated_fg=fg,
            annotated_bg=bg,
            total_annotated_px=t.annotated_px,
            model_version=shown.model_version,
            live_f1=live.f1,
            live_precision=live.precision,
            live_recall=live.recall,
            confidence=sure,
            error_regions=action.error_regions,
            spill_px=action.spill,
            accepted=accepted,
            split=split,
        )
        self.result.records.append(record)
        if self.on_record is not None:
            self.on_record(record, self._limit())

    def _limit(self) -> int:
        limit = len(self.project)
        return min(limit, self.options.max_images) if self.options.max_images else limit

    # -- the whole run ---------------------------------------------------------------------------
    async def run(self) -> BenchResult:
        """Annotate until ``--seconds`` or ``--max-images``, then let training finish."""
        start = await asyncio.to_thread(ensure_start_model, self.project)
        self.result.start_version = start.version
        self.result.started = time.time()
        t0 = time.monotonic()
        deadline = t0 + self.options.seconds
        self.project.config.settings[ORDER_SETTING] = self.options.order
        session = ReviewSession(self.project)
        try:
            for _ in range(self._limit()):
                if time.monotonic() >= deadline:
                    log.info("time is up after %d images", len(self.result.records))
                    break
                await self.annotate_one(session, deadline, t0)
            await self.finish()
        finally:
            await self._stop_sync()
        return self.result

    async def finish(self) -> None:
        """Let training run on until early stopping or ``--finish-seconds``; save what it made."""
        if not self.result.training_started or self.sync is None:
            return
        deadline = time.monotonic() + self.options.finish_seconds
        while time.monotonic() < deadline:
            status = await self._call(self.backend.status())
            if status.state in ENDED:
                break
            await asyncio.sleep(min(FINISH_POLL_S, max(0.0, deadline - time.monotonic())))
        await self._stop_sync()
        await self._call(self.backend.stop_training())
        self.result.final_status = await self._call(self.sync.pull())
