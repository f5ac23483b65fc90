"""The command line of :mod:`real_roots` (learning real roots at fixed compute)."""

from __future__ import annotations

import argparse

from real_roots_data import UserStyle


def arguments(doc: str) -> argparse.Namespace:
    """The options of a run; ``doc``'s first line describes the script."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--data", choices=("peanut", "switchgrass"), default="peanut")
    parser.add_argument("--seed", type=int, default=0, help="serving order, sampling, weights")
    parser.add_argument("--images", type=int, default=14, help="photos annotated")
    parser.add_argument("--clear", type=int, default=6, help="of which clear examples")
    parser.add_argument("--tiles-per-image", type=int, default=96)
    parser.add_argument("--epoch-tiles", type=int, default=48, help="tiles between validations")
    parser.add_argument("--finish-tiles", type=int, default=288)
    parser.add_argument("--tile", type=int, default=124)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default=None)
    parser.add_argument("--lr", type=float, default=None, help="default: the optimiser's")
    parser.add_argument("--momentum", type=float, default=None, help="default: the device's")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument(
        "--average",
        type=float,
        default=None,
        help="weight average decay (0: off; default: the device's)",
    )
    parser.add_argument("--fg-tiles", type=float, default=0.0, help="share of object tiles")
    parser.add_argument(
        "--norm", choices=("context", "tile"), default="context", help="tile: min-max per tile"
    )
    parser.add_argument(
        "--dense", action="store_true", help="every photo labelled whole from its hand mask"
    )
    parser.add_argument("--no-augment", action="store_true", help="train on tiles as cut")
    parser.add_argument(
        "--painted-only",
        action="store_true",
        help="validate on painted pixels only (not also on the accepted segmentation)",
    )
    parser.add_argument(
        "--dense-share",
        type=float,
        default=None,
        help="tiles a dense annotation of rare objects centres on one (default: the engine's)",
    )
    parser.add_argument("--start", default="", help="a model file to start from")
    parser.add_argument("--eval-images", type=int, default=12, help="held-out photos (0: all)")
    parser.add_argument(
        "--eval-tiles", default="0", help="tiles to segment held-out photos with (0: training's)"
    )
    parser.add_argument(
        "--stages", default="finished", help="when to score: start,clear,annotated,finished"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--correction-seconds", type=float, default=UserStyle.correction_seconds)
    parser.add_argument(
        "--score-latest", action="store_true", help="at the end also score the latest weights"
    )
    parser.add_argument("--out", default="", help="append one JSON line per score here")
    parser.add_argument("--save", default="", help="write the kept model to this file")
    parser.add_argument("--label", default="", help="a name for this run in --out")
    parser.add_argument(
        "--keep-annotations", default="", help="write each annotation to this folder (.npz)"
    )
    parser.add_argument(
        "--annotations",
        default="",
        help="a --keep-annotations folder: give the engine these instead of simulating a user",
    )
    parser.add_argument(
        "--accepted-background",
        type=float,
        default=0.0,
        help="also train on this share of a corrected training photo's "
        "output cells where the accepted segmentation said background and nobody painted",
    )
    return parser.parse_args()
