"""Root traits from a trained model's masks against the same traits from the hand masks.

Trains a model in this process (no Ray) on dense labels made from the hand masks of the
annotated photos of a dataset's fixed split (:mod:`real_roots_data`), for a fixed number
of training tiles (half of them centred on a root pixel: roots are a few per cent of
a photo); segments the held-out photos nobody annotated with the kept model
(no flip pass); measures every trait of the predicted masks and of the hand masks with
the same settings; prints the every-pixel F1, precision and recall of the model's masks
against the hand masks over the held-out photos and, per trait, R² and Spearman ρ over
the photos (computed by :func:`rptui.folders.correlate.correlate`, as ``rptui correlate``
does), and the median ratio model / hand, once per ``--prune`` value and ``--min-area``
value (regions smaller than that taken out of both masks first, as ``rptui measure
--min-area`` does).

    nice -n 15 python benchmarks/traits_vs_hand.py --data switchgrass --tiles 1536
        [--photos 12 --tile 124 --batch 8 --fg-tiles 0.5 --seed 0 --prune 0,5 --min-area 0
         --save-model M.pt | --model M.pt] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from real_roots_data import dataset_split, load_pair

from cluster.api import THRESHOLD, AnnotatedImage, TrainingConfig
from cluster.inference.tiled import segment_probability
from cluster.io.atomic import write_bytes_atomic
from cluster.io.model_files import load_model_file, recorded_f1, save_model
from cluster.measure.tables import measure_mask
from cluster.measure.traits import TraitSettings
from cluster.nn.devices import pick_device, resolve_precision
from cluster.nn.snapshot import model_from_snapshot
from cluster.simulate.strokes import dense_labels
from cluster.training.confusion import Confusion, confusion
from cluster.training.engine import TrainingEngine
from rptui.folders.correlate import correlate
from rptui.folders.tables import table_bytes
from rptui.store.annotation import assign_split

log = logging.getLogger(__name__)
Pair = tuple[str, np.ndarray, np.ndarray]  # photo name, model's mask, hand mask

COMPARED = (
    "length_px",
    "diameter_mean_px",
    "surface_area_px2",
    "root_volume_px3",
    "length_walk_px",
    "tips",
    "angle_mean_deg",
)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("peanut", "switchgrass"), default="switchgrass")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--photos", type=int, default=12, help="annotated photos trained on")
    parser.add_argument("--tiles", type=int, default=1500, help="training tiles in all")
    parser.add_argument("--tile", type=int, default=124)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epoch-tiles", type=int, default=96, help="tiles between validations")
    parser.add_argument(
        "--fg-tiles", type=float, default=0.5, help="share of tiles centred on a root pixel"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--prune", default="0", help="--prune of the traits (px), comma-separated: one table each"
    )
    parser.add_argument(
        "--min-area",
        default="0",
        help="regions smaller than this (px) are not measured, comma-separated: one table each",
    )
    parser.add_argument("--out-dir", type=Path, default=None, help="write both tables here")
    parser.add_argument("--save-model", type=Path, default=None, help="keep the model here")
    parser.add_argument("--model", type=Path, default=None, help="use this model, no training")
    return parser.parse_args()


def train(args: argparse.Namespace, photos: list[Path]) -> TrainingEngine:
    """An engine trained on dense labels of ``photos`` for about ``args.tiles`` tiles."""
    config = TrainingConfig(
        tile_size=args.tile,
        batch_size=args.batch,
        epoch_tiles=args.epoch_tiles,
        seed=args.seed,
        foreground_tiles=args.fg_tiles,
    )
    engine = TrainingEngine(config, device=pick_device("cpu"), threads=args.threads)
    counts = {"train": 0, "val": 0}
    for path in photos:
        image, mask = load_pair(path)
        split = assign_split(counts["train"], counts["val"])
        counts[split] += 1
        engine.set_annotation(AnnotatedImage(path.stem, image, dense_labels(mask, band=0), split))
    tiles = 0
    while tiles < args.tiles:
        record = engine.run_epoch()
        assert record is not None
        tiles += record.tiles
        log.info("epoch %d: %d tiles, validation F1 %.3f", record.epoch, tiles, record.f1)
    return engine


def compare(args: argparse.Namespace, pairs: list[Pair], prune: float, min_area: int) -> None:
    """Measure model and hand masks with ``prune`` and ``min_area``; print R², ρ and the
    median ratio per trait."""
    traits = TraitSettings(prune_px=prune)
    rows: dict[str, list[dict]] = {"model": [], "hand": []}
    for name, predicted, hand in pairs:
        for source, mask in (("model", predicted), ("hand", hand)):
            row = measure_mask(mask, kinds=("all",), traits=traits, min_area=min_area)
            rows[source].append({"file": name, **row})
    tables = {source: pd.DataFrame(found) for source, found in rows.items()}
    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for source, table in tables.items():
            smallest = f"_min{min_area}" if min_area else ""
            target = args.out_dir / f"{args.data}_{source}_prune{prune:g}{smallest}.csv"
            write_bytes_atomic(target, table_bytes(table, target))
    print(
        f"{'trait':18s} {'R²':>6s} {'ρ':>6s} {'model/hand':>10s}  "
        f"(n {len(pairs)}, prune {prune:g}, min area {min_area})"
    )
    for column in COMPARED:
        result = correlate(
            tables["model"], tables["hand"], auto_column=column, manual_column=column
        )
        ratio = float(np.median(result.auto / np.where(result.manual == 0, np.nan, result.manual)))
        print(f"{column:18s} {result.r2:6.3f} {result.spearman:6.3f} {ratio:10.3f}", flush=True)


def main() -> None:
    args = _arguments()
    logging.basicConfig(level=logging.INFO if os.environ.get("VERBOSE") else logging.WARNING)
    log.setLevel(logging.INFO)
    split = dataset_split(args.data)
    order = np.random.default_rng(args.seed).permutation(len(split.annotate))
    photos = [split.annotate[i] for i in order[: args.photos]]
    print(
        f"# {args.data}: {len(photos)} photos trained on (dense labels from the hand masks), "
        f"{len(split.held_out)} held out; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if args.model is not None:
        snapshot = load_model_file(args.model)
        print(f"# model {args.model}, validation F1 {recorded_f1(args.model)}", flush=True)
    else:
        started = time.process_time()
        engine = train(args, photos)
        snapshot = engine.best_snapshot()
        print(
            f"# trained {engine.epoch} epochs, kept model validation F1 {engine.best_f1:.3f}, "
            f"{time.process_time() - started:.0f} s CPU",
            flush=True,
        )
        if args.save_model is not None:
            save_model(args.save_model, snapshot)
    device = pick_device("cpu")
    dtype = resolve_precision(device, "auto")  # as the engine's own segmentation
    model = model_from_snapshot(snapshot).eval()
    pairs: list[Pair] = []
    counts = Confusion()
    for path in split.held_out:
        image, hand = load_pair(path)
        probability = segment_probability(
            [model], image, tile_size=args.tile, tta=False, device=device, dtype=dtype
        )
        predicted = probability > THRESHOLD
        counts = counts + confusion(predicted, hand.astype(np.uint8) + 1)  # every pixel labelled
        pairs.append((path.name, predicted, hand))
    print(
        f"# held out, every pixel against the hand masks: F1 {counts.f1:.3f}, "
        f"precision {counts.precision:.3f}, recall {counts.recall:.3f}",
        flush=True,
    )
    for min_area in (int(text) for text in args.min_area.split(",")):
        for prune in (float(text) for text in args.prune.split(",")):
            compare(args, pairs, prune, min_area)


if __name__ == "__main__":
    main()
