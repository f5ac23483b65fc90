"""Lay out a real dataset's fixed split as the four folders ``rptui bench`` takes.

The split is :mod:`real_roots_data`'s (peanut: 60 photos to annotate, 40 of other tube
locations held out; switchgrass: L2 and L7 annotated, L3 and tube T352 held out). The
folders hold symbolic links to the photos and masks, nothing is copied:

    python benchmarks/split_folders.py --data peanut --out /tmp/peanut-split
    rptui bench --images /tmp/peanut-split/images --masks /tmp/peanut-split/masks \\
        --test-images /tmp/peanut-split/test_images --test-masks /tmp/peanut-split/test_masks \\
        --out /tmp/runs/peanut-random-0 --seconds 1800 --seed 0 [--model starter:roots]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from real_roots_data import SPLITS, dataset_split

FOLDERS = ("images", "masks", "test_images", "test_masks")


def _link(photos: list[Path], images: Path, masks: Path) -> None:
    images.mkdir(parents=True)
    masks.mkdir(parents=True)
    for photo in photos:
        mask = photo.parent.parent / "masks" / f"{photo.stem}.png"
        (images / photo.name).symlink_to(photo)
        (masks / mask.name).symlink_to(mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(SPLITS), default="peanut")
    parser.add_argument("--out", type=Path, required=True, help="a new folder")
    parser.add_argument(
        "--held-out",
        type=int,
        default=0,
        help="hold out only this many photos, as real_roots.py --eval-images (0: all)",
    )
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; choose a new folder")
    split = dataset_split(args.data)
    folders = [args.out / name for name in FOLDERS]
    _link(split.annotate, folders[0], folders[1])
    held_out = split.held_out_sample(args.held_out)
    _link(held_out, folders[2], folders[3])
    print(f"{len(split.annotate)} photos to annotate, {len(held_out)} held out: {args.out}")


if __name__ == "__main__":
    main()
