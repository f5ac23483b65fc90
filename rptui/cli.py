"""The ``rptui`` command line: global options, subcommands, one-line user errors.

Handlers live in :mod:`rptui.commands` and are imported only when their subcommand
runs, so ``rptui --help`` answers at once without loading torch or Ray.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rptui.errors import EXIT_USER_ERROR, os_error_message, user_error_types
from rptui.tui.graphics.support import GRAPHICS_PATHS

START_MODEL_HELP = "starting model: a model file or starter:roots (default: random weights)"

log = logging.getLogger(__name__)

PROGRAM = "rptui"


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _handler(module: str) -> str:
    return f"rptui.commands.{module}"


def _add_model_option(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--model",
        action="append",
        required=required,
        metavar="M",
        help="a model file (ours or RootPainter's), PROJECT (its best model), PROJECT:N or "
        "starter:roots; repeat for an ensemble",
    )


def _add_bench(sub: argparse._SubParsersAction) -> None:
    """``bench`` (a simulated annotator against the live trainer) and ``bench plot``."""
    from rptui.bench import options

    bench = sub.add_parser(
        "bench",
        help="the paper's experiment with a simulated annotator",
        description="Annotate images with known masks by a simulated user while the model "
        "trains, then score the model on held-out images. `bench plot RUN...` charts runs.",
    )
    bench.add_argument("--images", type=Path, help="folder of images to annotate")
    bench.add_argument("--masks", type=Path, help="their masks, same stems (8-bit, fg > 0)")
    bench.add_argument("--test-images", type=Path, help="held-out images (with --test-masks)")
    bench.add_argument("--test-masks", type=Path, help="masks of the held-out images")
    bench.add_argument(
        "--test-fraction",
        type=float,
        default=None,
        help=f"hold out this share of --images instead (default {options.DEFAULT_TEST_FRACTION})",
    )
    bench.add_argument("--strategy", choices=options.STRATEGIES, default=options.STRATEGIES[0])
    bench.add_argument(
        "--order",
        choices=options.ORDERS,
        default=options.ORDERS[0],
        help="serve images in the fixed order or the most uncertain next (default %(default)s)",
    )
    bench.add_argument("--max-images", type=int, default=None, help="annotate at most N images")
    bench.add_argument(
        "--seconds",
        type=float,
        default=options.DEFAULT_SECONDS,
        help="annotation time budget, wall clock (default %(default)s)",
    )
    bench.add_argument(
        "--finish-seconds",
        type=float,
        default=options.DEFAULT_FINISH_SECONDS,
        help="then let training run on until early stopping, at most this long "
        "(default %(default)s)",
    )
    bench.add_argument(
        "--tile-size",
        type=int,
        default=None,
        help="training tile (default: planned for the device; a small one on CPU)",
    )
    bench.add_argument("--batch-size", type=int, default=None)
    bench.add_argument("--epoch-tiles", type=int, default=None, help="fixed epoch length")
    bench.add_argument(
        "--patience", type=int, default=options.DEFAULT_PATIENCE, help="early stopping (epochs)"
    )
    bench.add_argument("--seed", type=int, default=0, help="image order, test split, strokes")
    bench.add_argument("--model", default=None, help=START_MODEL_HELP)
    bench.add_argument(
        "--pace",
        choices=options.PACES,
        default=options.DEFAULT_PACE,
        help="wait the simulated user's time per image, by this time model (default %(default)s)",
    )
    bench.add_argument(
        "--max-clear-examples",
        type=int,
        default=options.DEFAULT_MAX_CLEAR,
        help="clear examples before corrections even if the model is not confident "
        "(default %(default)s)",
    )
    bench.add_argument(
        "--correction-seconds",
        type=float,
        default=None,
        help="mouse time the user spends correcting an image, largest errors first "
        f"(default {options.DEFAULT_CORRECTION_SECONDS:g})",
    )
    bench.add_argument(
        "--correct-all",
        action="store_true",
        help="correct every error region however small and long it takes (an ablation)",
    )
    bench.add_argument(
        "--eval-models",
        type=int,
        default=options.DEFAULT_EVAL_MODELS,
        help="saved models scored on the test images for the F1 curve (default %(default)s)",
    )
    bench.add_argument("--out", type=Path, help="new folder for the run's outputs")
    bench.set_defaults(handler=_handler("bench"), action=None)
    bench_sub = bench.add_subparsers(dest="action", metavar="ACTION")
    plot = bench_sub.add_parser("plot", help="chart F1 of one or several bench runs")
    plot.add_argument("runs", type=Path, nargs="+", help="bench output folders")
    plot.add_argument("-o", "--output", type=Path, required=True, help="chart to write (PNG)")


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
        help="radius of the skeleton fitted for each local root angle (default 5)",
    )


def build_parser() -> OneLineParser:
    """The whole command-line contract."""
    parser = OneLineParser(
        prog=PROGRAM,
        description="Corrective-annotation segmentation from a terminal, trained on Ray.",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="workspace folder (default: $RPTUI_WORKSPACE or ~/rptui)",
    )
    parser.add_argument(
        "--address",
        default=os.environ.get("RAY_ADDRESS"),
        help="Ray cluster to join (default: $RAY_ADDRESS, or an embedded local Ray)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="train and segment inside this process, without Ray (for debugging)",
    )
    parser.add_argument(
        "--graphics",
        choices=GRAPHICS_PATHS,
        default=None,
        help="how the app draws images: kitty or sixel (true pixels) or halfblocks "
        "(default: what the terminal offers; `rptui doctor` says which)",
    )
    parser.add_argument("--verbose", action="store_true", help="log more to stderr")
    parser.set_defaults(handler=_handler("app"), project=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    demo = sub.add_parser(
        "demo", help="a generated dataset and project, the trainer running, the app open"
    )
    demo.add_argument(
        "--headless",
        action="store_true",
        help="no app: train on the clear examples for --seconds and report held-out F1",
    )
    demo.add_argument("--images", type=int, default=24, help="generated images (default 24)")
    demo.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    demo.add_argument(
        "--seconds",
        type=float,
        default=120.0,
        help="with --headless: training time (default 120)",
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_handler("demo"))

    open_ = sub.add_parser("open", help="open a project in the terminal app (the bare `rptui`)")
    open_.add_argument("project", nargs="?", help="project name (default: choose in the app)")
    open_.set_defaults(handler=_handler("app"))

    dataset = sub.add_parser("dataset", help="datasets: folders of images")
    dataset_sub = dataset.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = dataset_sub.add_parser("create", help="make a dataset from a folder of images")
    create.add_argument("source", type=Path, help="folder of images (JPEG, PNG, TIFF)")
    create.add_argument("name", help="dataset name")
    create.add_argument("--sample", type=int, metavar="N", help="take a random N images")
    create.add_argument("--tiles-per-image", type=int, metavar="K", help="at most K tiles each")
    create.add_argument("--target-size", type=int, default=750, help="tile side (default 750)")
    create.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    create.set_defaults(handler=_handler("datasets"))

    project = sub.add_parser("project", help="projects: a dataset, annotations and models")
    project_sub = project.add_subparsers(dest="action", required=True, metavar="ACTION")
    p_create = project_sub.add_parser("create", help="make a project on a dataset")
    p_create.add_argument("name", help="project name")
    p_create.add_argument("--dataset", required=True, help="dataset name in the workspace")
    p_create.add_argument("--model", help=START_MODEL_HELP)
    p_create.add_argument("--seed", type=int, default=None, help="seed of the image order")
    p_create.add_argument(
        "--classes",
        help="foreground classes, comma-separated (e.g. air,soil,root; background is added "
        "first; at most 9); default: one, foreground (binary, RootPainter-compatible)",
    )
    p_create.add_argument(
        "--colours", help="class colours, e.g. air=#56b4e9,root=#e69f00 (default: Okabe-Ito)"
    )
    p_create.set_defaults(handler=_handler("projects"))
    p_list = project_sub.add_parser("list", help="list the workspace's projects")
    p_list.set_defaults(handler=_handler("projects"))
    p_import = project_sub.add_parser("import", help="open a RootPainter project (.seg_proj)")
    p_import.add_argument("seg_proj", type=Path, help="the RootPainter .seg_proj file")
    p_import.set_defaults(handler=_handler("projects"))
    p_masks = project_sub.add_parser(
        "import-masks",
        help="hand-made masks as annotations, every pixel labelled",
        description="Make each mask in FOLDER the annotation of the project's image of the same "
        "stem (a stack's slice: STEM.z0001 and so on), every pixel labelled background or its "
        "class, split into train and validation by the project's rule. Reads our masks (0/255, "
        "label PNGs), RootPainter's RGBA segmentations and RhizoVision's black-on-white ones. "
        "Nothing is written when a mask names no image, differs in size or holds an unknown "
        "class.",
    )
    p_masks.add_argument("project", help="project name")
    p_masks.add_argument("folder", type=Path, help="folder of masks named like the images")
    p_masks.add_argument(
        "--replace",
        action="store_true",
        help="replace the annotations of images annotated already (default: keep them)",
    )
    p_masks.set_defaults(handler=_handler("projects"))

    train = sub.add_parser("train", help="train a project's model headless, with progress")
    train.add_argument("project", help="project name")
    train.add_argument("--seconds", type=float, default=None, help="stop after this long")
    train.add_argument("--tile-size", type=int, default=None, help="network input side")
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument(
        "--epoch-tiles",
        type=int,
        default=None,
        help="tiles per epoch (default: about 30 s of work on slow devices, else 612)",
    )
    train.set_defaults(handler=_handler("training"))

    doctor = sub.add_parser(
        "doctor", help="what this terminal shows: true pixels or half blocks, colours, tmux"
    )
    doctor.set_defaults(handler=_handler("doctor"))

    serve = sub.add_parser(
        "serve",
        help="the app in a web browser (through an SSH tunnel)",
        description="Serve the app to a web browser at http://127.0.0.1:PORT/?token=... (the "
        "address is printed; without the token every request is refused). Each browser tab "
        "runs its own app. Reach it from your computer through an SSH tunnel: "
        "ssh -L PORT:127.0.0.1:PORT server.",
    )
    serve.add_argument("project", nargs="?", help="project to open (default: choose in the app)")
    serve.add_argument("--port", type=int, default=8765, help="port (default %(default)s)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "--public",
        action="store_true",
        help="allow listening on an address other machines can reach (anyone with the "
        "printed address, token included, can annotate)",
    )
    serve.set_defaults(handler=_handler("serve"))

    status = sub.add_parser("status", help="show the embedded Ray and what runs on it")
    status.set_defaults(handler=_handler("ray_admin"))
    stop = sub.add_parser("stop", help="stop the embedded Ray of this workspace")
    stop.set_defaults(handler=_handler("ray_admin"))

    segment = sub.add_parser(
        "segment",
        help="segment a folder of images and stacks with a model ensemble",
        description="Segment every image of INPUT into OUTPUT. Stacks (multi-page TIFFs and "
        "subfolders of numbered slices) are segmented slice by slice into one multi-page TIFF "
        "OUTPUT/<stem>.tif (uint8 pages: 0/255 for a binary model, class indices 0..K-1 for a "
        "multi-class one), and their voxels per class go to OUTPUT/volumes.csv.",
    )
    segment.add_argument("input", type=Path, help="folder of images and stacks")
    segment.add_argument("output", type=Path, help="folder for the masks")
    _add_model_option(segment, required=True)
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
    segment.add_argument("--px-per-mm", type=float, default=None, help="lengths in mm too")
    segment.add_argument(
        "--min-area", type=int, default=0, help="ignore regions smaller than this (pixels)"
    )
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
    segment.set_defaults(handler=_handler("segmenting"))

    measure = sub.add_parser(
        "measure",
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
    measure.add_argument("--px-per-mm", type=float, default=None, help="also report mm")
    measure.add_argument(
        "--min-area", type=int, default=0, help="ignore regions smaller than this (px)"
    )
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
    measure.set_defaults(handler=_handler("measuring"))
    correlate = sub.add_parser("correlate", help="compare measurements with manual ones")
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
    correlate.set_defaults(handler=_handler("measuring"))
    _add_bench(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    module = importlib.import_module(args.handler)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return 130
    except OSError as error:
        message, status = os_error_message(error)
        print(f"{PROGRAM}: error: {message}", file=sys.stderr)
        return status
    except user_error_types() as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
