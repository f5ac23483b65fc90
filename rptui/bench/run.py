"""One bench run from start to end: inputs, project, the loop, evaluation, outputs."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cluster.api import Backend, ModelSnapshot, TrainingConfig
from cluster.io.model_files import load_model_file
from rptui.bench.evaluate import HeldOut, evaluate_model, spread
from rptui.bench.options import BenchOptions
from rptui.bench.pairs import ImagePair, check_masks, pair_folders, split_test
from rptui.bench.plots import plot_runs
from rptui.bench.project_setup import BenchProject, create_bench_project
from rptui.bench.protocol import BenchProtocol, BenchResult
from rptui.bench.records import (
    CHART_PNG,
    CURVE_CSV,
    EPOCHS_CSV,
    IMAGES_CSV,
    MODEL_FILE,
    REPORT_JSON,
    CurvePoint,
    ImageRecord,
    write_report,
    write_rows,
)
from rptui.errors import UserError
from rptui.session.training import EPOCH_LOG_NAME, ensure_start_model

log = logging.getLogger(__name__)

BackendFactory = Callable[[ModelSnapshot], Backend]
Progress = Callable[[str], None]


def inputs(options: BenchOptions) -> tuple[list[ImagePair], list[ImagePair]]:
    """(annotation pairs, test pairs), every mask read once (UserError naming a bad one)."""
    pairs = pair_folders(options.images, options.masks)
    if options.test_images is not None and options.test_masks is not None:
        test = pair_folders(options.test_images, options.test_masks)
    else:
        pairs, test = split_test(pairs, fraction=options.test_fraction, seed=options.seed)
    check_masks(pairs + test)
    return pairs, test


def training_config(options: BenchOptions, classes: tuple[str, ...]) -> TrainingConfig:
    """The trainer's settings for a run (None fields: chosen from the device)."""
    return TrainingConfig(
        classes=classes,
        tile_size=options.tile_size,
        batch_size=options.batch_size,
        epoch_tiles=options.epoch_tiles,
        patience=options.patience,
        seed=options.seed,
        momentum=options.momentum,
        optimizer=options.optimizer,
    )


def _place(created: float, records: list[ImageRecord], started: float) -> dict[str, Any]:
    """The annotation state when a model was made: sums of the last image accepted before."""
    before = [r for r in records if r.time <= created]
    last = before[-1] if before else None
    return {
        "wall_seconds": max(0.0, created - started),
        "annotated_images": sum(r.accepted for r in before),
        "total_annotated_px": last.total_annotated_px if last else 0,
        "total_mouse_seconds": last.total_mouse_seconds if last else 0.0,
        "total_keyboard_seconds": last.total_keyboard_seconds if last else 0.0,
    }


def model_curve(
    bench: BenchProject, test: list[ImagePair], result: BenchResult, *, limit: int
) -> list[CurvePoint]:
    """Score up to ``limit`` saved models (evenly spread, the best included) on the test set."""
    files = bench.project.models()
    points = []
    for index in spread(len(files), limit):
        snapshot = load_model_file(files[index].path)
        held = evaluate_model(snapshot, test, tta=False)
        place = _place(snapshot.created, result.records, result.started)
        points.append(
            CurvePoint(
                model_version=snapshot.version,
                created=snapshot.created,
                f1=held.f1,
                precision=held.total.precision,
                recall=held.total.recall,
                **place,
            )
        )
    return points


def _corrections(options: BenchOptions, records: list[ImageRecord]) -> dict[str, Any]:
    """The corrective phase: the time allowed per image and the error area left."""
    rows = [r for r in records if r.phase == "corrective"]
    errors = sum(r.error_px for r in rows)
    left = sum(r.uncorrected_px for r in rows)
    return {
        "budget_seconds": options.correction_seconds,  # None: every error region corrected
        "images": len(rows),
        "images_corrected": sum(r.accepted for r in rows),
        "error_px": errors,
        "uncorrected_px": left,
        "uncorrected_share": left / errors if errors else float("nan"),
    }


def _report(
    options: BenchOptions,
    result: BenchResult,
    held: HeldOut,
    *,
    n_pairs: int,
    n_test: int,
    seconds: float,
) -> dict[str, Any]:
    records = result.records
    last = records[-1] if records else None
    status = result.final_status
    return {
        "strategy": options.strategy,
        "options": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in asdict(options).items()
        },
        "annotation_images": n_pairs,
        "test_images": n_test,
        "images_seen": len(records),
        "images_accepted": sum(r.accepted for r in records),
        "images_skipped": sum(not r.accepted for r in records),
        "clear_examples": sum(r.phase == "clear" for r in records),
        "annotated_px": last.total_annotated_px if last else 0,
        "mouse_seconds": last.total_mouse_seconds if last else 0.0,
        "keyboard_seconds": last.total_keyboard_seconds if last else 0.0,
        "annotation_wall_seconds": last.wall_seconds if last else 0.0,
        "total_wall_seconds": seconds,
        "spill_px": sum(r.spill_px for r in records),
        "corrections": _corrections(options, records),
        "training": None
        if status is None
        else {
            "state": status.state.value,
            "epochs": status.epoch,
            "best_validation_f1": status.best_f1,
            "model_version": status.model_version,
            "device": status.device,
        },
        "held_out": held.as_dict(),
        "held_out_flipped_pass": True,
    }


def _corrections_line(corrections: dict[str, Any]) -> str:
    budget = corrections["budget_seconds"]
    allowed = "every error" if budget is None else f"{budget:g} s of mouse time each"
    return (
        f"corrections ({allowed}): {corrections['images_corrected']} of "
        f"{corrections['images']} images corrected, {corrections['uncorrected_px']} of "
        f"{corrections['error_px']} error px left uncorrected"
    )


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The printed summary of a run."""
    held = report["held_out"]
    training = report["training"] or {}

    def number(value: object, digits: int = 3) -> str:
        return "–" if value is None else f"{value:.{digits}f}"

    return [
        f"strategy {report['strategy']}: {report['images_seen']} images seen, "
        f"{report['images_accepted']} annotated ({report['clear_examples']} clear examples), "
        f"{report['images_skipped']} skipped",
        f"annotation: {report['annotated_px']} px, mouse {report['mouse_seconds']:.0f} s, "
        f"keyboard {report['keyboard_seconds']:.0f} s, spill {report['spill_px']} px",
        _corrections_line(report["corrections"]),
        f"training: {training.get('epochs', 0)} epochs, model #{held['model_version']}, "
        f"validation F1 {number(training.get('best_validation_f1'))}",
        f"held-out ({held['test_images']} images): F1 {number(held['f1'])}, "
        f"precision {number(held['precision'])}, recall {number(held['recall'])}, "
        f"length R² {number(held['length_r2'])}, Spearman {number(held['length_spearman'])}",
    ]


async def _annotate(
    bench: BenchProject,
    options: BenchOptions,
    backend: Backend,
    on_record: Callable[[ImageRecord, int], None] | None,
) -> BenchResult:
    config = training_config(options, tuple(bench.project.config.classes))
    protocol = BenchProtocol(bench, backend, options, config=config, on_record=on_record)
    try:
        return await protocol.run()
    finally:
        end_actors = getattr(backend, "end_actors", None)
        if end_actors is not None:  # a bench's Ray actors are its own: end them
            await end_actors()
        else:
            await backend.close()


def run_bench(
    options: BenchOptions,
    make_backend: BackendFactory,
    *,
    on_record: Callable[[ImageRecord, int], None] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the experiment and write everything into ``options.out``; returns the report."""
    say = progress or log.info
    began = time.monotonic()
    pairs, test = inputs(options)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    bench = create_bench_project(out, pairs, seed=options.seed, start_model=options.start_model)
    try:
        start = ensure_start_model(bench.project)
        backend = make_backend(start)
        say(f"{len(pairs)} images to annotate ({options.strategy}), {len(test)} test images")
        result = asyncio.run(_annotate(bench, options, backend, on_record))
        write_rows(out / IMAGES_CSV, result.records, ImageRecord)
        epochs = bench.project.logs_dir / EPOCH_LOG_NAME
        if epochs.is_file():
            shutil.copyfile(epochs, out / EPOCHS_CSV)
        newest = bench.project.newest_model()
        if newest is None:
            raise UserError("the run saved no model")
        shutil.copyfile(newest.path, out / MODEL_FILE)
        say(f"scoring up to {options.eval_models} saved models on {len(test)} test images")
        curve = model_curve(bench, test, result, limit=options.eval_models)
        write_rows(out / CURVE_CSV, curve, CurvePoint)
        say(f"scoring model #{newest.number} on the test images (with flipped pass)")
        held = evaluate_model(load_model_file(newest.path), test, tta=True)
    finally:
        bench.project.close()
    report = _report(
        options,
        result,
        held,
        n_pairs=len(pairs),
        n_test=len(test),
        seconds=time.monotonic() - began,
    )
    write_report(out / REPORT_JSON, report)
    plot_runs([out], out / CHART_PNG)
    return report
