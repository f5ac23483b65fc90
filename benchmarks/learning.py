"""Learning curve on CPU: train on synthetic roots with sparse strokes, score unseen images.

Trains the engine on ``--train`` synthetic images (plus ``--val`` for validation) with
simulated clear-example strokes (:func:`cluster.simulate.clear_examples.clear_example_labels`), the
learning test's older block strokes, or dense labels (every pixel: the ceiling of a run)
for ``--epochs`` epochs, then runs
``--corrective-rounds`` rounds of the corrective loop (docs/method.md): the best model segments the
annotated images (and ``--round-images`` new training images), the simulated annotator corrects
every error (:func:`cluster.simulate.clear_examples.correction_labels`), and training goes on
for ``--round-epochs`` epochs. After every epoch it segments ``--held-out`` unseen images and
prints F1 over every pixel (mask vs prediction), F1 on labelled-style pixels (clear-example
strokes on the held-out images), and where the errors are.

    nice -n 10 python benchmarks/learning.py [--tile 124] [--epochs 8] [--epoch-tiles 100]
        [--corrective-rounds 2 --round-epochs 2]
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch
from scipy import ndimage

import cluster.training.augment
from cluster.api import THRESHOLD, AnnotatedImage, TrainingConfig
from cluster.inference.tiled import segment_probability
from cluster.nn.devices import pick_device
from cluster.nn.snapshot import model_from_snapshot
from cluster.simulate.clear_examples import clear_example_labels, correction_labels
from cluster.simulate.synthetic import generate_root_image
from cluster.training.confusion import Confusion, confusion
from cluster.training.engine import TrainingEngine

log = logging.getLogger(__name__)

TRAIN_SEED = 100
HELD_OUT_SEED = 900
EDGE_PX = 1  # errors this close to the mask's edge count as boundary errors


def block_strokes(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The learning test's older, denser annotation: root cores and diagonal bg lines."""
    from skimage.morphology import skeletonize

    root = mask.astype(bool)
    core = skeletonize(root) | ndimage.binary_erosion(root)
    clear = ndimage.distance_transform_edt(~root) > 2
    blocks = rng.random((mask.shape[0] // 32 + 1, mask.shape[1] // 32 + 1)) < 0.6
    painted = np.kron(blocks, np.ones((32, 32), dtype=bool))[: mask.shape[0], : mask.shape[1]]
    rows, cols = np.indices(mask.shape)
    lines = ((rows + cols) % 8 == 0) | ((rows - cols) % 8 == 0)
    labels = np.zeros(mask.shape, dtype=np.uint8)
    labels[clear & lines & painted] = 1
    labels[core & painted] = 2
    return labels


def _labels(args: argparse.Namespace, mask: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if args.labels == "blocks":
        return block_strokes(mask, rng)
    if args.labels == "dense":
        return mask.astype(np.uint8) + 1
    return clear_example_labels(mask, rng=rng, bg_margin=args.bg_margin, bg_ratio=args.bg_ratio)


def evaluate(
    model: torch.nn.Module,
    args: argparse.Namespace,
    dtype: torch.dtype | None,
    *,
    infer_tile: int | None,
) -> tuple[Confusion, Confusion, int, int]:
    """(every-pixel counts, labelled-style counts, boundary errors, other errors)."""
    whole, labelled, edge_errors, far_errors = Confusion(), Confusion(), 0, 0
    for seed in range(HELD_OUT_SEED, HELD_OUT_SEED + args.held_out):
        image, mask = generate_root_image(seed=seed, root_probability=1.0)
        probability = segment_probability(
            [model],
            image,
            tile_size=infer_tile,
            tta=False,
            device=pick_device("cpu"),
            dtype=dtype,
        )
        predicted = probability > THRESHOLD
        if args.dump:
            np.savez_compressed(f"{args.dump}_{seed}.npz", probability=probability, mask=mask)
        whole = whole + confusion(predicted, mask.astype(np.uint8) + 1)
        labelled = labelled + confusion(predicted, _labels(args, mask, seed))
        root = mask.astype(bool)
        edge = ndimage.binary_dilation(root, iterations=EDGE_PX) & ~ndimage.binary_erosion(
            root, iterations=EDGE_PX
        )
        wrong = predicted != root
        edge_errors += int(np.count_nonzero(wrong & edge))
        far_errors += int(np.count_nonzero(wrong & ~edge))
    return whole, labelled, edge_errors, far_errors


def correct(
    engine: TrainingEngine, args: argparse.Namespace, painted: dict[int, np.ndarray]
) -> float:
    """One corrective round with the best model: every annotated image, plus new ones.

    Returns the share of labelled pixels the round added (over all annotated images).
    """
    model = model_from_snapshot(engine.best_snapshot()).eval()
    model = model.to(memory_format=torch.channels_last)
    indices = list(painted)
    if args.round_images:
        start = max(painted) + 1
        indices += list(range(start, start + args.round_images))
    before = sum(int(np.count_nonzero(labels)) for labels in painted.values())
    for index in indices:
        image, mask = generate_root_image(seed=TRAIN_SEED + index, root_probability=1.0)
        split = "val" if index < args.val else "train"
        probability = segment_probability(
            [model], image, tile_size=args.tile, tta=False, device=engine.device, dtype=engine.dtype
        )
        previous = painted.get(index, np.zeros(mask.shape, dtype=np.uint8))
        painted[index] = correction_labels(mask, probability > THRESHOLD, previous)
        engine.set_annotation(AnnotatedImage(f"r{index}", image, painted[index], split))
    after = sum(int(np.count_nonzero(labels)) for labels in painted.values())
    return (after - before) / max(after, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=124)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--epoch-tiles", type=int, default=100)
    parser.add_argument("--train", type=int, default=6)
    parser.add_argument("--val", type=int, default=2)
    parser.add_argument("--held-out", type=int, default=4)
    parser.add_argument("--labels", choices=("clear", "blocks", "dense"), default="clear")
    parser.add_argument("--bg-margin", type=float, default=3.0, help="clear labels only")
    parser.add_argument("--bg-ratio", type=float, default=8.0, help="clear labels only")
    parser.add_argument("--infer-tile", type=int, default=0, help="0: the training tile")
    parser.add_argument(
        "--final-infer-tiles",
        default="",
        help="comma-separated inference tiles for the best model at the end (0: per image)",
    )
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--elastic-gain", type=float, default=1.0, help="0 turns elastic off")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corrective-rounds", type=int, default=0)
    parser.add_argument("--round-epochs", type=int, default=2, help="epochs after each round")
    parser.add_argument(
        "--round-images", type=int, default=0, help="new training images corrected per round"
    )
    parser.add_argument("--eval-every", type=int, default=1, help="held-out scoring interval")
    parser.add_argument("--dump", default="", help="save held-out probabilities to PREFIX_seed")
    args = parser.parse_args()
    args.infer_tile = args.infer_tile or args.tile
    logging.basicConfig(level=logging.WARNING)
    if args.elastic_gain != 1.0:
        original = cluster.training.augment._small_field

        def scaled(*a: object, **k: object) -> np.ndarray:
            return original(*a, **k) * args.elastic_gain  # type: ignore[arg-type]

        cluster.training.augment._small_field = scaled  # type: ignore[assignment]

    config = TrainingConfig(
        tile_size=args.tile,
        batch_size=args.batch,
        epoch_tiles=args.epoch_tiles,
        seed=args.seed,
        precision=args.precision,
    )
    engine = TrainingEngine(config, device=pick_device("cpu"), threads=args.threads)
    painted: dict[int, np.ndarray] = {}
    for index in range(args.val + args.train):
        image, mask = generate_root_image(seed=TRAIN_SEED + index, root_probability=1.0)
        split = "val" if index < args.val else "train"
        painted[index] = _labels(args, mask, TRAIN_SEED + index)
        engine.set_annotation(AnnotatedImage(f"r{index}", image, painted[index], split))
    print(f"# {vars(args)}")
    print("round  epoch  tiles  train_s  tiles/s  val_f1  whole_f1  labelled_f1  edge_err  far_err")
    schedule = [0] * args.epochs
    for round_index in range(1, args.corrective_rounds + 1):
        schedule += [round_index] * args.round_epochs
    train_seconds = 0.0
    whole = Confusion()
    for position, round_index in enumerate(schedule):
        if position and round_index != schedule[position - 1]:
            added = correct(engine, args, painted)
            print(f"# round {round_index}: corrections added {added:.1%} of the labels")
        record = engine.run_epoch()
        assert record is not None
        train_seconds += record.duration
        last_of_round = position + 1 == len(schedule) or schedule[position + 1] != round_index
        if not last_of_round and (position + 1) % args.eval_every:
            continue
        model = model_from_snapshot(engine.best_snapshot()).eval()
        model = model.to(memory_format=torch.channels_last)
        whole, labelled, edge, far = evaluate(model, args, engine.dtype, infer_tile=args.infer_tile)
        print(
            f"{round_index:5d}  {record.epoch:5d}  {record.tiles:5d}  {train_seconds:7.1f}  "
            f"{record.tiles / record.duration:7.1f}  {record.f1:6.3f}  {whole.f1:8.3f}  "
            f"{labelled.f1:11.3f}  {edge:8d}  {far:7d}",
            flush=True,
        )
    print(f"# precision {whole.precision:.3f} recall {whole.recall:.3f} (every pixel)")
    for tile in (int(t) for t in args.final_infer_tiles.split(",") if t):
        for dtype in (engine.dtype, None):
            started = time.perf_counter()
            whole, labelled, edge, far = evaluate(model, args, dtype, infer_tile=tile or None)
            print(
                f"# best model, inference tile {tile or 'per image'}, {dtype or 'fp32'}: "
                f"whole F1 {whole.f1:.3f} (P {whole.precision:.3f} R {whole.recall:.3f}), "
                f"labelled F1 {labelled.f1:.3f}, edge/far errors {edge}/{far}, "
                f"{time.perf_counter() - started:.1f} s"
            )


if __name__ == "__main__":
    main()
