"""Parsers of the workspace commands: demo, open, dataset, project, train, doctor, serve,
status and stop."""

from __future__ import annotations

import argparse
from pathlib import Path

from rptui.cli_parsers.common import START_MODEL_HELP, add_command


def add_workspace_commands(sub: argparse._SubParsersAction) -> None:
    """The commands that make, open, train and serve the workspace's projects."""
    demo = add_command(
        sub,
        "demo",
        "demo",
        help="a generated dataset and project, the trainer running, the app open",
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

    open_ = add_command(
        sub, "open", "app", help="open a project in the terminal app (the bare `rptui`)"
    )
    open_.add_argument("project", nargs="?", help="project name (default: choose in the app)")

    dataset = sub.add_parser("dataset", help="datasets: folders of images")
    dataset_sub = dataset.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = add_command(
        dataset_sub, "create", "datasets", help="make a dataset from a folder of images"
    )
    create.add_argument("source", type=Path, help="folder of images (JPEG, PNG, TIFF)")
    create.add_argument("name", help="dataset name")
    create.add_argument("--sample", type=int, metavar="N", help="take a random N images")
    create.add_argument("--tiles-per-image", type=int, metavar="K", help="at most K tiles each")
    create.add_argument("--target-size", type=int, default=750, help="tile side (default 750)")
    create.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    project = sub.add_parser("project", help="projects: a dataset, annotations and models")
    project_sub = project.add_subparsers(dest="action", required=True, metavar="ACTION")
    p_create = add_command(project_sub, "create", "projects", help="make a project on a dataset")
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
    add_command(project_sub, "list", "projects", help="list the workspace's projects")
    p_import = add_command(
        project_sub, "import", "projects", help="open a RootPainter project (.seg_proj)"
    )
    p_import.add_argument("seg_proj", type=Path, help="the RootPainter .seg_proj file")
    p_masks = add_command(
        project_sub,
        "import-masks",
        "projects",
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

    train = add_command(
        sub, "train", "training", help="train a project's model headless, with progress"
    )
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

    add_command(
        sub,
        "doctor",
        "doctor",
        help="what this terminal shows: true pixels or half blocks, colours, tmux",
    )

    serve = add_command(
        sub,
        "serve",
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

    add_command(sub, "status", "ray_admin", help="show the embedded Ray and what runs on it")
    add_command(sub, "stop", "ray_admin", help="stop the embedded Ray of this workspace")
