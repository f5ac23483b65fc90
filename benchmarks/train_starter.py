"""Train the starter model ``starter:roots`` on generated photo-like roots and write it.

The training images are made here, from seeds (:mod:`cluster.simulate.photo_roots`), and
labelled densely from their exact masks; nothing is downloaded, so the weights carry the
package's licence. The engine trains as a project would on this CPU (tile 124, batch 8)
for ``--tiles`` tiles (6,000: about 20 minutes here), keeping the model with the best F1
on ``--val`` further generated images; that model is written in half precision (about
2.7 MB) in our model file format.

    nice -n 15 python benchmarks/train_starter.py --out rptui/starters/roots.pt
        [--tiles 6000 --images 300 --size 320 --seed 0 --threads 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time

import numpy as np

from cluster.api import AnnotatedImage, ModelSnapshot, TrainingConfig
from cluster.io.model_files import save_model
from cluster.nn.devices import pick_device
from cluster.simulate.photo_roots import photo_root_image
from cluster.training.engine import TrainingEngine

log = logging.getLogger(__name__)

VAL_SEED_OFFSET = 1_000_000  # validation images come from seeds no training image uses


def _image_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _item(seed: int, index: int, size: int, split: str) -> AnnotatedImage:
    """A generated photo with every pixel labelled (1 background, 2 root)."""
    image, mask = photo_root_image(seed=_image_seed(seed, index), height=size, width=size)
    return AnnotatedImage(f"{split}{index}", image, mask + np.uint8(1), split)  # type: ignore[arg-type]


def _starter(best: ModelSnapshot, args: argparse.Namespace, tiles: int) -> ModelSnapshot:
    """The kept model as the starter: version 1, half precision, where it came from."""
    return dataclasses.replace(
        best,
        version=1,
        state_dict={key: value.astype(np.float16) for key, value in best.state_dict.items()},
        f1=None,
        metadata={
            "starter": "roots",
            "trained_on": f"{args.images} generated photo-like root images of {args.size} px",
            "tiles": str(tiles),
            "seed": str(args.seed),
            "synthetic_validation_f1": f"{best.f1 or 0.0:.4f}",
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the model file to write")
    parser.add_argument("--tiles", type=int, default=6_000)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--val", type=int, default=12)
    parser.add_argument("--size", type=int, default=320, help="side of the generated images")
    parser.add_argument("--epoch-tiles", type=int, default=400)
    parser.add_argument("--tile", type=int, default=124)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    config = TrainingConfig(
        tile_size=args.tile, batch_size=args.batch, epoch_tiles=args.epoch_tiles, seed=args.seed
    )
    engine = TrainingEngine(config, device=pick_device("cpu"), threads=args.threads)
    for index in range(args.images):
        engine.set_annotation(_item(args.seed, index, args.size, "train"))
    for index in range(args.val):
        engine.set_annotation(_item(args.seed, VAL_SEED_OFFSET + index, args.size, "val"))
    started, tiles = time.process_time(), 0
    while tiles < args.tiles:
        record = engine.run_epoch()
        assert record is not None
        tiles += record.tiles
        log.info(
            "epoch %d: %d tiles, loss %.3f, validation F1 %.3f%s, %.0f CPU s",
            record.epoch,
            tiles,
            record.train_loss,
            record.f1,
            " (kept)" if record.improved else "",
            time.process_time() - started,
        )
        if record.improved:  # written as it improves, so a stopped run leaves its best
            save_model(args.out, _starter(engine.best_snapshot(), args, tiles))
    best = engine.best_snapshot()
    log.info("wrote %s (synthetic validation F1 %.3f)", args.out, best.f1 or 0.0)


if __name__ == "__main__":
    main()
