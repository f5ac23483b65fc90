"""The bench loop: a simulated user works through the project while the model trains.

The user works through the app's own review session
(:class:`rptui.session.review.ReviewSession`) and backend link
(:mod:`rptui.session.link`): the masks are asked for and awaited as the app asks for
them (the image on screen at 0, a stack's neighbouring slices, the next ``pre_segment``
images or, in uncertain order, images to score); accepted labels are saved into the
project (which fixes their split by the project's rule, and logs corrective metrics)
and sent to the trainer; new models and epoch records are pulled into the project as
they come. This module holds only the simulated user's turn and the run's bookkeeping.

Corrective strategy (the paper's protocol): clear examples first, with training from the
second image on, until the model shown is trained and either looks roughly right (confident,
see :mod:`rptui.bench.annotator`, and live F1 at least ``LOOKS_RIGHT_F1``) or
``max_clear_examples`` images were labelled (with no
trained model yet, the user waits for one while training runs, up to one more epoch, and
otherwise paints another clear example: correcting an untrained model's output would be
dense annotation at corrective cost); then corrections only, skipping images without errors.
A given starting model (``--model``, a file or a starter) counts as trained: where its
masks look roughly right, the user corrects it from the first image on. Pre-segment is 0 while clear
examples are labelled, 1 once a model is shown, and 2 after ``PRESEGMENT_TWO_AFTER`` images
with a model shown. Dense strategy: every image labelled fully, with the same pre-segment
steps once training runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cluster.api import (
    BACKGROUND,
    FOREGROUND,
    Backend,
    Segmentation,
    TrainerState,
    TrainerStatus,
    TrainingConfig,
)
from cluster.training.confusion import confusion
from rptui.bench.annotator import CONFIDENT, SimulatedUser, UserAction, confidence
from rptui.bench.options import BenchOptions
from rptui.bench.pairs import load_truth
from rptui.bench.project_setup import BenchProject
from rptui.bench.records import ImageRecord
from rptui.session.link.backend_link import RUNNING, BackendLink, LinkTimings
from rptui.session.link.events import LinkEvent, Notice, WentOffline
from rptui.session.link.wait import SegmentationTimeout
from rptui.session.review import ReviewSession
from rptui.session.training import ensure_start_model
from rptui.store.annotation import Annotation

log = logging.getLogger(__name__)

TIMINGS = LinkTimings(
    call_s=60.0,  # any backend call
    give_up_s=900.0,  # no segmentation for this long: the segmenter is broken
    ask_again_s=15.0,  # no segmentation yet: the image on screen is asked for again
)
TRAINED_MODEL_POLL_S = 1.0  # how often a user done with clear examples looks for a model
FINISH_POLL_S = 1.0
MIN_CLEAR_EXAMPLES = 2  # training needs one validation and one training image
# A person switches to corrections once the masks look roughly right. Confidence alone
# cannot tell: on photos with a few thin roots a model that finds none is confident.
LOOKS_RIGHT_F1 = 0.5
PRESEGMENT_TWO_AFTER = 3
ENDED = (TrainerState.FINISHED, TrainerState.FAILED)


def log_event(event: LinkEvent) -> None:
    """What the link tells a bench goes to the log (nobody watches a screen)."""
    if isinstance(event, Notice | WentOffline):
        log.info("backend link: %s", event)


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
        self.on_record = on_record
        self.user = SimulatedUser(seed=options.seed, correction_seconds=options.correction_seconds)
        self.totals = Totals()
        self.result = BenchResult()
        self.phase = "clear" if options.strategy == "corrective" else "dense"
        self.project.config.settings.order = options.order
        self.session = ReviewSession(self.project)
        self.link = BackendLink(
            self.session, backend, training_config=config, timings=TIMINGS, follow=False
        )
        self.link.listener = log_event

    # -- the backend, through the app's link ---------------------------------------------------
    async def fetch_segmentation(self) -> Segmentation:
        """Ask for the image on screen and the next ones as the app does; await this one.

        The first result is taken, whichever model made it (the app shows it at once too);
        a request lost meanwhile is asked for again (see ``rptui.session.link.wait``).
        """
        result = await self.link.masks.presegment(at_least=0)
        if result is None:
            view = self.session.viewer
            raise SegmentationTimeout(f"{view.stem} cannot be segmented: {view.problem}")
        return result

    def _is_trained(self, shown: Segmentation) -> bool:
        """Whether ``shown`` comes from a trained model: a given starting model (a file or
        a starter) is one; random starting weights are not."""
        return self.options.start_model is not None or (
            shown.model_version > self.result.start_version
        )

    def _waits_for_a_trained_model(self, shown: Segmentation) -> bool:
        """Clear examples are done but training has not yet saved a model to correct."""
        return (
            self.phase == "clear"
            and not self._is_trained(shown)
            and self.result.training_started
            and self.totals.clear_examples >= self.options.max_clear_examples
        )

    async def _wait_for_a_trained_model(self, shown: Segmentation, deadline: float) -> Segmentation:
        """Wait (as the user would) for the first trained model, then its segmentation.

        The wait lasts while training runs, at most until one more epoch ends (an epoch
        that saved no better model leaves the user painting another clear example) or
        the session's time is up; ``shown`` comes back when no trained model came.
        """
        log.info("clear examples done; waiting for the first trained model")
        first_epoch: int | None = None
        while True:
            status = await self.link.call(self.backend.status())
            if status.model_version > self.result.start_version:
                break
            first_epoch = status.epoch if first_epoch is None else first_epoch
            running = status.state in RUNNING  # idle: the engine is still being built
            if not running or status.epoch > first_epoch or time.monotonic() >= deadline:
                return shown
            await asyncio.sleep(TRAINED_MODEL_POLL_S)
        result = await self.link.masks.presegment(at_least=status.model_version)
        return shown if result is None else result

    async def _start_training_if_ready(self) -> None:
        splits = set(self.project.config.splits.values())
        if self.result.training_started or not {"train", "val"} <= splits:
            return
        await self.link.start_training()
        self.result.training_started = True
        self.link.start()  # new models and epoch records land in the project as they come
        log.info("training started with %d annotations", len(self.project.config.splits))

    # -- the user --------------------------------------------------------------------------------
    def _pre_segment(self) -> int:
        if self.phase == "clear" or not self.result.training_started:
            return 0
        return 1 if self.totals.shown_model < PRESEGMENT_TWO_AFTER else 2

    def _choose_action(
        self, truth: np.ndarray, shown: Segmentation, sure: float, live_f1: float
    ) -> UserAction:
        labels = np.array(self.session.viewer.annotation.labels)
        if self.phase == "clear":
            done = self.totals.clear_examples
            looks_right = sure > CONFIDENT and live_f1 >= LOOKS_RIGHT_F1
            enough = done >= self.options.max_clear_examples or looks_right
            given = self.options.start_model is not None  # corrected from the first image on
            if self._is_trained(shown) and (given or done >= MIN_CLEAR_EXAMPLES) and enough:
                self.phase = "corrective"
                log.info(
                    "after %d clear examples the model shown is confident (%.3f) with live F1 "
                    "%.3f: corrections now",
                    done,
                    sure,
                    live_f1,
                )
        if self.phase == "clear":
            return self.user.clear_examples(truth, labels)
        if self.phase == "corrective":
            predicted = np.asarray(shown.mask) > 0
            return self.user.corrections(truth, predicted, labels)
        return self.user.dense(truth)

    async def _pace(self, action: UserAction, deadline: float) -> None:
        """Wait as long as the simulated user would have worked (``--pace``)."""
        if self.options.pace == "none":
            return
        seconds = action.mouse_seconds if self.options.pace == "mouse" else action.keyboard_seconds
        await asyncio.sleep(max(0.0, min(seconds, deadline - time.monotonic())))

    async def annotate_one(self, deadline: float, t0: float) -> None:
        """The simulated user's turn on the image on screen."""
        session = self.session
        index, stem = session.viewer.index, session.viewer.stem
        started = time.monotonic()
        self.project.config.settings.pre_segment = self._pre_segment()
        shown = await self.fetch_segmentation()
        if self._waits_for_a_trained_model(shown):
            shown = await self._wait_for_a_trained_model(shown, deadline)
        await self.link.masks.collect_scores()
        truth = await asyncio.to_thread(load_truth, self.bench.pair_at(index))
        live = confusion(np.asarray(shown.mask) > 0, truth.astype(np.uint8) + 1)
        sure = confidence(shown.probability)
        action = await asyncio.to_thread(self._choose_action, truth, shown, sure, live.f1)
        phase = self.phase
        accepted = phase != "corrective" or action.error_regions > 0
        await self._pace(action, deadline)
        split = ""
        await self.link.masks.collect_scores()  # the next image is chosen from the scores
        if accepted:
            apply_labels(session.viewer.annotation, action.labels)
            items = await asyncio.to_thread(session.accept)
            await self.link.send(items)
            split = items[-1].split if items else ""
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
            pre_segment=self.project.config.settings.pre_segment,
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
            budget_seconds=action.budget_seconds,
            error_px=action.error_px,
            uncorrected_px=action.uncorrected_px,
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
        try:
            for _ in range(self._limit()):
                if time.monotonic() >= deadline:
                    log.info("time is up after %d images", len(self.result.records))
                    break
                await self.annotate_one(deadline, t0)
            await self.finish()
        finally:
            await self.link.stop()
        return self.result

    async def finish(self) -> None:
        """Let training run on until early stopping or ``--finish-seconds``; save what it made."""
        sync = self.link.sync
        if not self.result.training_started or sync is None:
            return
        deadline = time.monotonic() + self.options.finish_seconds
        while time.monotonic() < deadline:
            status = await self.link.call(self.backend.status())
            if status.state in ENDED:
                break
            await asyncio.sleep(min(FINISH_POLL_S, max(0.0, deadline - time.monotonic())))
        await self.link.stop()  # after the pull under way: nothing is saved twice
        await self.link.stop_training()
        self.result.final_status = await self.link.call(sync.pull())
