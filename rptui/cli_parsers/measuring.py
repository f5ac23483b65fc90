"""Parsers of the commands that segment folders and measure masks: segment, measure and
correlate."""

from __future__ import annotations

import argparse
from pathlib import Path

from rptui.cli_parsers.common import add_command, add_model_option


def _add_voxel_size_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--voxel-size",
        default=None,
        metavar="X,Y,Z",
        help="a stack voxel's size in mm (x, y: pixel width and height; z: slice spacing), "
        "e.g. 0.05,0.05,0.1: the volume table gains volume_mm3 (voxels x X x Y x Z)",
    )


def _add_trait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dpi",
        type=float,
        default=None,
        help="the masks' resolution in dots per inch: mm columns too (as --px-per-mm DPI/25.4)",
    )
    parser.add_argument(
        "--prune",
        type=float,
        default=0.0,
        metavar="PX",
        help="first remove skeleton side branches (tip to junction) no longer than PX px",
    )
    parser.add_argument(
        "--diameter-classes",
        default=None,
        metavar="T1,T2,...",
        help="up to 10 rising diameter thresholds (mm with --px-per-mm or --dpi, else px): "
        "length, projected and surface area and volume per diameter class",
    )
    parser.add_argument(
        "--angle-window",
        type=int,
        default=None,
        metavar="PX",
        help="radius of the skeleton fitted for each local root angle, 1-50 (default 5)",
    )


def _add_scale_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--px-per-mm", type=float, default=None, help="lengths in mm too")
    parser.add_argument(
        "--min-area", type=int, default=0, help="ignore regions smaller than this (pixels)"
    )


def add_measuring_commands(sub: argparse._SubParsersAction) -> None:
    """``segment`` (masks of a folder), ``measure`` (traits of masks) and ``correlate``."""
    segment = add_command(
        sub,
        "segment",
        "segmenting",
        help="segment a folder of images and stacks with a model ensemble",
        description="Segment every image of INPUT into OUTPUT. Stacks (multi-page TIFFs and "
        "subfolders of numbered slices) are segmented slice by slice into one multi-page TIFF "
        "OUTPUT/<stem>.tif (uint8 pages: 0/255 for a binary model, class indices 0..K-1 for a "
        "multi-class one), and their voxels per class go to OUTPUT/volumes.csv.",
    )
    segment.add_argument("input", type=Path, help="folder of images and stacks")
    segment.add_argument("output", type=Path, help="folder for the masks")
    add_model_option(segment, required=True)
    segment.add_argument(
        "--format",
        choices=("png", "rootpainter", "rve", "npz"),
        default="png",
        help="mask format of plain images (default png: 0 background, 255 foreground; a "
        "multi-class model writes 8-bit label PNGs of class indices 0..K-1)",
    )
    segment.add_argument("--no-tta", action="store_true", help="skip the flipped pass")
    segment.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="auto")
    segment.add_argument(
        "--measure",
        default=None,
        metavar="KINDS",
        help="measure the masks: comma-separated length,count,tips,diameter,angles,shape "
        "(all: every one) and regions",
    )
    segment.add_argument(
        "--table",
        type=Path,
        default=None,
        metavar="TABLE.csv",
        help="per-image table, one row per image with its error if any (.csv or .parquet; "
        "default with --measure: OUTPUT/measurements.csv)",
    )
    segment.add_argument(
        "--regions-table",
        type=Path,
        default=None,
        metavar="REGIONS.csv",
        help="per-region table (implies --measure regions; default OUTPUT/regions.csv)",
    )
    _add_scale_options(segment)
    segment.add_argument(
        "--workers",
        type=int,
        default=None,
        help="segmenting workers (default: one per GPU, else one per 4 CPUs)",
    )
    segment.add_argument(
        "--shared-storage",
        action="store_true",
        help="every Ray node sees INPUT and OUTPUT at the same paths: workers read and "
        "write them directly instead of sending bytes through the driver",
    )
    segment.add_argument(
        "--worker-resource",
        default=None,
        metavar="NAME",
        help="run the workers only on Ray nodes that declare this custom resource "
        "(ray start --resources '{\"NAME\": 1}'; default: $RPTUI_WORKER_RESOURCE, any node)",
    )
    _add_voxel_size_option(segment)
    _add_trait_options(segment)
    segment.add_argument(
        "--overwrite",
        action="store_true",
        help="redo every mask in OUTPUT (by default a mask made by the same models is kept, "
        "one made by other models redone)",
    )
    segment.add_argument(
        "--progress-jsonl",
        action="store_true",
        help="report progress and the summary as JSON lines on stdout (for programs)",
    )

    measure = add_command(
        sub,
        "measure",
        "measuring",
        help="measure masks: root traits per image or per region",
        description="Measure a folder of masks: root traits (length, diameter, areas, volume, "
        "angles, tips, outline), one row per image with units in the column names. "
        "Multi-class label masks get one row per class (class, class_name, area_px); TIFF "
        "stacks one per slice (slice 1..Z) and a volume table (voxels per class per stack, "
        "and the traits that add up, summed over its slices). --list-traits names them all.",
    )
    measure.add_argument(
        "seg_dir",
        type=Path,
        nargs="?",
        help="folder of masks (ours, RootPainter, RVE, TIFF stacks)",
    )
    measure.add_argument(
        "--kind",
        default="all",
        help="comma-separated: length, count, tips, diameter, angles, shape (one row per "
        "image; all: every one), or regions (one row per region, with its traits) "
        "(default all)",
    )
    measure.add_argument(
        "--list-traits",
        action="store_true",
        help="list the trait columns, their units and definitions, and stop",
    )
    _add_scale_options(measure)
    measure.add_argument(
        "--objects",
        action="store_true",
        help="regions: the masks are label images, one value per object (touching apart)",
    )
    measure.add_argument(
        "-o", "--output", type=Path, default=None, help="table to write: .csv or .parquet"
    )
    measure.add_argument(
        "--classes",
        default=None,
        help="names of the foreground classes, comma-separated, for masks that record none "
        "(default: the names a mask records, else class1, class2, ...)",
    )
    measure.add_argument(
        "--volume-table",
        type=Path,
        default=None,
        metavar="VOLUMES.csv",
        help="volume table of the stacks (default: volumes.csv beside --output)",
    )
    _add_voxel_size_option(measure)
    _add_trait_options(measure)
    correlate = add_command(
        sub, "correlate", "measuring", help="compare measurements with manual ones"
    )
    correlate.add_argument("auto_csv", type=Path, help="automatic measurements (.csv/.parquet)")
    correlate.add_argument("manual_csv", type=Path, help="manual measurements (.csv/.parquet)")
    correlate.add_argument(
        "--auto-column",
        required=True,
        help="column of the automatic table: any trait (rptui measure --list-traits) or other",
    )
    correlate.add_argument(
        "--manual-column",
        default=None,
        help="column of the manual table (default: the same name as --auto-column)",
    )
    correlate.add_argument("--on", default="file", help="column to match rows on (default file)")
    correlate.add_argument(
        "--plot", type=Path, default=None, help="scatter PNG (default AUTO_correlation.png)"
    )
    correlate.add_argument(
        "--no-text-plot", action="store_true", help="do not draw the plot in the terminal"
    )
