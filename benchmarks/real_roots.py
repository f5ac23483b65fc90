"""Learning real roots at fixed compute: the protocol on real photos, held-out F1.

Trains the engine in this process (no Ray) the way a user's session feeds it: clear
examples on the first ``--clear`` photos, then on each later photo the newest kept model's
segmentation is corrected under a budget (the largest error regions first, see
:mod:`real_roots_data`), and ``--tiles-per-image`` training tiles run between photos
(training starts once both splits hold an annotation, as in the app). After the last
photo ``--finish-tiles`` more are trained. Compute is counted in tiles, not seconds, so
other load on the machine changes the CPU time printed, never the result. With
``--dense`` every photo is labelled whole from its hand mask instead (what full labels
teach at the same compute).

The kept model is scored on every pixel of held-out photos nobody annotated (the fixed
splits of :mod:`real_roots_data`): F1, precision, recall, and R² of the per-photo root
length (orientation-fair skeleton length) against the hand masks.

    nice -n 15 python benchmarks/real_roots.py --data peanut --seed 0 [--tile 124 --batch 8]
        [--images 14 --clear 6 --tiles-per-image 96 --finish-tiles 288]
    nice -n 15 python benchmarks/real_roots.py --data peanut --dense --images 30
        --tiles-per-image 0 --finish-tiles 960 --epoch-tiles 96 [--optimizer adam]

The defaults are a short session (about 6 minutes of the user, 2 of training). What a
30-minute session gives (about 45 photos at 40 s, one core training throughout):

    nice -n 5 python benchmarks/real_roots.py --data peanut --threads 1 --epoch-tiles 192
        --images 45 --tiles-per-image 300 --finish-tiles 1500

Every photo is priced with the bench's mouse model; the user's seconds are reported.
``--keep-annotations DIR`` writes each photo's annotation; ``--annotations DIR`` gives
the engine those again instead of simulating the user (with ``--start`` a model saved by
``--save``), to try another finish or tile on the same annotations:

    python benchmarks/real_roots.py --annotations DIR --start MODEL.pt --finish-tiles 0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from real_roots_ablations import (
    dense_share,
    no_augmentation,
    per_tile_normalisation,
)
from real_roots_cli import arguments
from real_roots_data import (
    NEAR_PX,
    VALIDATION_THRESHOLDS,
    Score,
    Shares,
    UserStyle,
    clear_labels,
    dataset_split,
    held_out_score,
    load_pair,
    mouse_seconds,
    paced_corrections,
)
from torch import nn

from cluster.api import BACKGROUND, FOREGROUND, THRESHOLD, AnnotatedImage, TrainingConfig
from cluster.inference.tiled import segment_probability
from cluster.io.model_files import load_model_file, save_model
from cluster.io.model_metadata import model_threshold
from cluster.nn.devices import pick_device
from cluster.nn.snapshot import model_from_snapshot, snapshot_from_model
from cluster.simulate.strokes import dense_labels, plan_dense
from cluster.training.confusion import Confusion, confusion
from cluster.training.engine import TrainingEngine
from rptui.store.annotation import assign_split

log = logging.getLogger(__name__)


class Run:
    """One simulated session: the engine, the user, the clock."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = pick_device("cpu")
        config = TrainingConfig(
            tile_size=args.tile,
            batch_size=args.batch,
            epoch_tiles=args.epoch_tiles,
            optimizer=args.optimizer,
            learning_rate=args.lr,
            momentum=args.momentum,
            precision=args.precision,
            seed=args.seed,
            weight_average=args.average,
            foreground_tiles=args.fg_tiles,
            accepted_background=args.accepted_background,
        )
        start = load_model_file(args.start) if args.start else None
        self.engine = TrainingEngine(config, start=start, device=self.device, threads=args.threads)
        self.style = UserStyle(correction_seconds=args.correction_seconds)
        self.rng = np.random.default_rng(args.seed)
        self.tiles = 0
        self.cpu_started = time.process_time()
        self.wall_started = time.perf_counter()
        split = dataset_split(args.data)
        order = self.rng.permutation(len(split.annotate))[: args.images]
        self.annotate = [split.annotate[i] for i in order]
        self.held_out = [load_pair(path) for path in split.held_out_sample(args.eval_images)]
        self.n_train = self.n_val = 0
        self.user_seconds = 0.0  # the simulated user's mouse time
        self.photos: dict[str, Path] = {}  # validation photos by name
        self.validation_labels: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}

    def train(self, tiles: int) -> None:
        """Train about ``tiles`` tiles (whole epochs) once the engine is ready."""
        if not self.engine.ready:
            return
        target = self.tiles + tiles
        while self.tiles < target:
            record = self.engine.run_epoch()
            assert record is not None
            self.tiles += record.tiles
            log.info(
                "epoch %d: loss %.3f val F1 %.3f%s",
                record.epoch,
                record.train_loss,
                record.f1,
                " *" if record.improved else "",
            )

    def kept_probability(self, image: np.ndarray, model: nn.Module | None = None) -> np.ndarray:
        """The kept model's (or ``model``'s) root probability of a photo, as the app
        segments it (training tile, no flipped pass)."""
        if model is None:
            model = model_from_snapshot(self.engine.best_snapshot()).eval()
        return segment_probability(
            [model],
            image,
            tile_size=self.engine.tile_size,
            tta=False,
            device=self.device,
            dtype=self.engine.dtype,
        )

    def shown(self, image: np.ndarray) -> np.ndarray:
        """The kept model's segmentation of a photo, as the app shows it for correction."""
        return self.kept_probability(image) > THRESHOLD  # as the app's segmenter cuts it

    @property
    def threshold(self) -> float:
        """The kept model's own foreground threshold (what the product segments with)."""
        return model_threshold(self.engine.best_snapshot().metadata)

    def annotate_all(self, report: Callable[[str], None]) -> None:
        if self.args.annotations:
            self.replay(report)
            return
        report("start")
        painted = 0
        for index, path in enumerate(self.annotate):
            image, mask = load_pair(path)
            accepted = None  # the segmentation the user corrected and accepted
            if self.args.dense:
                labels = dense_labels(mask, band=0)
                seconds = mouse_seconds(plan_dense(mask), mask.shape)
                note = "dense"
            else:
                if index < self.args.clear:
                    plan = clear_labels(mask, self.style, self.rng)
                    note = "clear"
                else:
                    shown = self.shown(image)
                    plan = paced_corrections(mask, shown, self.style)
                    note = f"{plan.error_regions} error regions corrected"
                    if not self.args.painted_only:
                        accepted = shown.astype(np.uint8)
                labels, seconds = plan.labels, mouse_seconds(plan, mask.shape)
            self.user_seconds += seconds
            split = assign_split(self.n_train, self.n_val)
            if split == "val":
                self.n_val += 1
            else:
                self.n_train += 1
            painted += int(np.count_nonzero(labels))
            item = AnnotatedImage(path.stem, image, labels, split, shown=accepted)
            self.give(path, item)
            self.keep(index, path, item, seconds)
            log.info(
                "photo %d (%s): %s, %d px painted, %.0f s of mouse time in all",
                index + 1,
                split,
                note,
                painted,
                self.user_seconds,
            )
            self.train(self.args.tiles_per_image)
            if index + 1 == self.args.clear:
                report("clear")
        report("annotated")
        self.finish(report)

    def finish(self, report: Callable[[str], None]) -> None:
        self.train(self.args.finish_tiles)
        report("finished")
        if self.args.save:
            save_model(self.args.save, self.engine.best_snapshot())

    def give(self, path: Path, item: AnnotatedImage) -> None:
        """Hand an annotation to the engine; remember where a validation one came from."""
        self.engine.set_annotation(item)
        if item.split == "val":
            self.photos[item.name] = path
            self.validation_labels[item.name] = (item.labels, item.shown)

    def keep(self, index: int, path: Path, item: AnnotatedImage, seconds: float) -> None:
        """Write one annotation where ``--keep-annotations`` says (replayed by
        ``--annotations``)."""
        if not self.args.keep_annotations:
            return
        folder = Path(self.args.keep_annotations)
        folder.mkdir(parents=True, exist_ok=True)
        extra = {} if item.shown is None else {"shown": item.shown}
        np.savez_compressed(
            folder / f"{index:03d}.npz",
            photo=str(path),
            labels=item.labels,
            split=item.split,
            seconds=seconds,
            **extra,
        )

    def replay(self, report: Callable[[str], None]) -> None:
        """Give the engine the annotations of an earlier run, then train the finish."""
        for kept in sorted(Path(self.args.annotations).glob("*.npz")):
            with np.load(kept) as saved:
                path = Path(str(saved["photo"]))
                image, _ = load_pair(path)
                shown = saved["shown"] if "shown" in saved.files else None
                split = "val" if str(saved["split"]) == "val" else "train"
                item = AnnotatedImage(path.stem, image, saved["labels"], split, shown=shown)
                self.give(path, item)
                self.user_seconds += float(saved["seconds"])
        log.info("%d annotations replayed", self.engine.n_train + self.engine.n_val)
        report("annotated")
        self.finish(report)

    def validation_report(self) -> dict[str, float]:
        """The swept threshold the kept model's validation photos favour, by four kinds of
        labels: the labels as the trainer scores them (painted pixels, and a correction's
        accepted sample), the painted pixels only, the painted pixels with the background
        weighted to the root share of what the user accepted, and the hand masks."""
        model = model_from_snapshot(self.engine.best_snapshot()).eval()
        kinds = ("trainer", "painted", "weighted", "hand")
        swept = {kind: {t: Confusion() for t in VALIDATION_THRESHOLDS} for kind in kinds}
        scored = {item.name: item.labels for item in self.engine._annotations.validation_items()}
        shares = Shares()
        for name, (painted, shown) in self.validation_labels.items():
            image, mask = load_pair(self.photos[name])
            probability = self.kept_probability(image, model)
            truth = np.where(mask, np.uint8(FOREGROUND), np.uint8(BACKGROUND))
            for threshold in VALIDATION_THRESHOLDS:
                said = probability > threshold
                swept["trainer"][threshold] += confusion(said, scored[name])
                swept["painted"][threshold] += confusion(said, painted)
                swept["hand"][threshold] += confusion(said, truth)
            shares.add(painted, shown, mask)
        weight = shares.background_weight()
        for threshold, counts in swept["painted"].items():
            swept["weighted"][threshold] = dataclasses.replace(
                counts, fp=round(counts.fp * weight), tn=round(counts.tn * weight)
            )
        picks: dict[str, float] = {}
        for kind in kinds:
            f1s = {t: c.f1 for t, c in swept[kind].items()}
            picks[kind] = max(f1s, key=lambda threshold: f1s[threshold])
            text = ", ".join(f"{t}: {f1:.3f}" for t, f1 in f1s.items())
            print(f"  validation F1 on {kind} labels: {text}; picks {picks[kind]}", flush=True)
        print(
            f"  root share: painted {shares.painted:.3f}, accepted {shares.accepted:.3f}, "
            f"hand masks {shares.hand:.3f}",
            flush=True,
        )
        return picks

    def score(self, *, tile: int, latest: bool = False) -> Score:
        """The kept model's held-out score (``latest``: the weights trained last, averaged
        where the engine averages)."""
        snapshot = self.engine.best_snapshot()
        if latest:
            snapshot = snapshot_from_model(self.engine._kept_model, version=0)
        model = model_from_snapshot(snapshot).eval()
        model = model.to(memory_format=torch.channels_last)
        return held_out_score(
            model,
            self.held_out,
            tile_size=tile or self.engine.tile_size,
            device=self.device,
            dtype=self.engine.dtype,
            threshold=THRESHOLD if latest else self.threshold,
        )


def main() -> None:
    args = arguments(__doc__)
    if args.norm == "tile":
        per_tile_normalisation()
    if args.no_augment:
        no_augmentation()
    if args.dense_share is not None:
        dense_share(args.dense_share)
    logging.basicConfig(level=logging.INFO if os.environ.get("VERBOSE") else logging.WARNING)
    log.setLevel(logging.INFO)
    run = Run(args)
    print(f"# {json.dumps(vars(args))}", flush=True)
    print(
        f"# load average {os.getloadavg()[0]:.1f}; "
        f"{len(run.annotate)} photos to annotate, {len(run.held_out)} held out",
        flush=True,
    )

    def report(stage: str) -> None:
        if stage != "latest" and stage not in args.stages.split(","):
            return
        if stage == "finished" and args.score_latest:
            report("latest")
        for tile in (int(text) for text in args.eval_tiles.split(",")):
            write(stage, tile)

    def write(stage: str, tile: int) -> None:
        train_cpu = time.process_time() - run.cpu_started
        score = run.score(tile=tile, latest=stage == "latest")
        counts = score.counts
        stage = f"{stage}@{tile}" if tile else stage
        row = {
            "label": args.label,
            "data": args.data,
            "seed": args.seed,
            "stage": stage,
            "tiles": run.tiles,
            "epochs": run.engine.epoch,
            "model": run.engine.best_snapshot().version,
            "val_f1": run.engine.best_f1,
            "threshold": run.threshold,
            "f1": counts.f1,
            "precision": counts.precision,
            "recall": counts.recall,
            "length_r2": score.length_r2(),
            "near_precision": score.near_precision(),
            "near_recall": score.near_recall(),
            "f1_by_threshold": {str(t): c.f1 for t, c in score.swept.items()},
            "user_s": run.user_seconds,
            "cpu_s": train_cpu,
            "wall_s": time.perf_counter() - run.wall_started,
        }
        print(
            f"{args.label or '-'} {args.data} seed {args.seed} {stage:13s} tiles {run.tiles:5d} "
            f"model {row['model']:3d} val {row['val_f1'] or 0:.3f}  "
            f"held-out F1 {counts.f1:.3f} at {run.threshold:.2f} "
            f"(P {counts.precision:.3f} R {counts.recall:.3f}; within {NEAR_PX} px: "
            f"P {score.near_precision():.3f} R {score.near_recall():.3f}) "
            f"length R² {row['length_r2']:.3f}  "
            f"user {run.user_seconds:.0f} s  cpu {train_cpu:.0f} s",
            flush=True,
        )
        print(f"  held-out F1 by threshold: {score.swept_text()}", flush=True)
        if stage.startswith("finished") and run.engine.ready:
            row["validation_picks"] = run.validation_report()
        if args.out:
            with open(args.out, "a", encoding="utf-8") as out:
                out.write(json.dumps(row) + "\n")

    run.annotate_all(report)


if __name__ == "__main__":
    main()
