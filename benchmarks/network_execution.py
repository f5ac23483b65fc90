"""Network execution on a CPU: one trained network run by several backends, side by side.

Backends: eager torch in fp32 and bf16 autocast, each with channels-last or plain (NCHW)
tensors; ``torch.compile`` (inductor) in fp32 and bf16; ONNX Runtime in fp32 (an exported
graph). Each is timed on whole images through the tiled segmentation (:mod:`cluster.inference
.tiled`), the backends interleaved in every round so they share the machine's load, at the
model's training tile and at 572 px. One-off costs (compilation, export) are measured apart:
the first image a backend segments, less its median.

Every backend's masks are compared with fp32 eager's: pixel agreement on the timed images,
and on the held-out switchgrass photos also F1 against the hand masks (the bar for keeping a
backend: agreement >= 99.9 % and |F1 difference| <= 0.002).

Run (about 15-30 minutes on 2 busy cores)::

    python benchmarks/network_execution.py --model /tmp/sg.pt --train-tile 124

where ``/tmp/sg.pt`` is a model trained on switchgrass, e.g. by
``benchmarks/traits_vs_hand.py --data switchgrass --tiles 384 --save-model /tmp/sg.pt``.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from real_roots_data import DATA, dataset_split, load_pair
from torch import nn

from cluster.api import THRESHOLD
from cluster.inference.tiled import segment_probability
from cluster.io.images import read_image
from cluster.io.model_files import ModelFileError, load_model_file
from cluster.nn.devices import DeviceInfo, prepare_model, set_cpu_threads
from cluster.nn.snapshot import model_from_snapshot
from cluster.training.confusion import Confusion, confusion

CPU = DeviceInfo(torch.device("cpu"), 0, 0)
BACKENDS = (
    "eager-fp32-cl",
    "eager-fp32-nchw",
    "eager-bf16-cl",
    "eager-bf16-nchw",
    "compile-fp32",
    "compile-bf16",
    "onnxruntime-fp32",
)
REFERENCE = "eager-fp32-cl"


class Executed(nn.Module):
    """A network run by ``run``; ``module`` is the bare network (its head, its device)."""

    def __init__(self, model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.module = model
        self._run = run

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)


@dataclass
class Backend:
    name: str
    model: nn.Module
    dtype: torch.dtype | None
    setup_s: float
    seconds: dict[str, list[float]] = field(default_factory=dict)
    first_s: dict[str, float] = field(default_factory=dict)


def _onnx_run(model: nn.Module, threads: int) -> Callable[[torch.Tensor], torch.Tensor]:
    import tempfile

    import onnxruntime as ort  # type: ignore[import-untyped]

    sample = torch.rand(1, 3, 124, 124)
    axes = {0: "n", 2: "h", 3: "w"}
    with tempfile.TemporaryDirectory() as folder:
        graph = Path(folder) / "model.onnx"
        torch.onnx.export(
            model,
            (sample,),
            graph,
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": axes, "y": axes},
            opset_version=17,
        )
        exported = graph.read_bytes()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(exported, options, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> torch.Tensor:
        inputs = np.ascontiguousarray(x.float().numpy())
        return torch.from_numpy(session.run(None, {"x": inputs})[0])

    return run


def make_backend(name: str, bare: nn.Module, threads: int) -> Backend:
    """A backend's runnable model and the seconds it took to build (not the first run)."""
    started = time.perf_counter()
    dtype = torch.bfloat16 if "bf16" in name else None
    model = prepare_model(copy.deepcopy(bare), CPU).eval()  # channels-last weights
    if name.endswith("-nchw"):
        plain = copy.deepcopy(bare).eval()
        runnable: nn.Module = Executed(plain, lambda x: plain(x.contiguous()))
    elif name.startswith("compile"):
        runnable = Executed(model, torch.compile(model, dynamic=False))
    elif name.startswith("onnxruntime"):
        runnable = Executed(model, _onnx_run(copy.deepcopy(bare).eval(), threads))
    else:
        runnable = model
    return Backend(name, runnable, dtype, time.perf_counter() - started)


def _probability(backend: Backend, image: np.ndarray, tile: int | None, tta: bool) -> np.ndarray:
    return segment_probability(
        [backend.model], image, tile_size=tile, tta=tta, device=CPU, dtype=backend.dtype
    )


def _mosaic(photos: list[Path]) -> np.ndarray:
    """A larger photo: four peanut photos, two by two."""
    tiles = [read_image(path)[:, :, :3] for path in photos[:4]]
    return np.concatenate(
        [np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:4], axis=1)], axis=0
    )


def _agreement(mask: np.ndarray, reference: np.ndarray) -> float:
    return float((mask == reference).mean())


def timing(
    backends: list[Backend],
    images: dict[str, np.ndarray],
    tiles: list[int],
    rounds: int,
    tta: bool,
) -> dict[tuple[str, str], float]:
    """Seconds per image for every backend, case by case, interleaved by round (kept in
    each backend); returns each backend's mask agreement with the reference, by case."""
    agreeing: dict[tuple[str, str], float] = {}
    for image_name, image in images.items():
        for tile in tiles:
            case = f"{image_name} @ {tile}"
            masks: dict[str, np.ndarray] = {}
            for backend in backends:  # first run apart: compilation, warm-up
                started = time.perf_counter()
                masks[backend.name] = _probability(backend, image, tile, tta) > THRESHOLD
                backend.first_s[case] = time.perf_counter() - started
            for _ in range(rounds):
                for backend in backends:
                    started = time.perf_counter()
                    _probability(backend, image, tile, tta)
                    backend.seconds.setdefault(case, []).append(time.perf_counter() - started)
            for backend in backends:
                agreeing[(backend.name, case)] = _agreement(masks[backend.name], masks[REFERENCE])
            print(f"# done {case}; load average {os.getloadavg()[0]:.1f}", flush=True)
    return agreeing


def held_out_agreement(
    backends: list[Backend], tile: int, count: int, tta: bool
) -> list[tuple[str, float, float, float]]:
    """(backend, pixel agreement with fp32 eager, F1, F1 of fp32 eager) over switchgrass's
    held-out photos, every pixel pooled."""
    paths = dataset_split("switchgrass").held_out[:count]
    same = {b.name: 0 for b in backends}
    counts = {b.name: Confusion() for b in backends}
    total = 0
    if not paths:
        return []
    for path in paths:
        image, hand = load_pair(path)
        labels = hand.astype(np.uint8) + 1
        masks = {b.name: _probability(b, image, tile, tta) > THRESHOLD for b in backends}
        total += hand.size
        for b in backends:
            same[b.name] += int((masks[b.name] == masks[REFERENCE]).sum())
            counts[b.name] = counts[b.name] + confusion(masks[b.name], labels)
    reference_f1 = counts[REFERENCE].f1
    return [(b.name, same[b.name] / total, counts[b.name].f1, reference_f1) for b in backends]


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained model file")
    parser.add_argument("--train-tile", type=int, default=124, help="the model's training tile")
    parser.add_argument("--tiles", default="", help="tile sides to time (default: train tile, 572)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument(
        "--rounds", type=int, default=2, help="timed runs per backend and case (0: no timing)"
    )
    parser.add_argument("--held-out", type=int, default=13, help="switchgrass photos to compare")
    parser.add_argument("--big", action="store_true", help="also time a 2x2 peanut mosaic")
    parser.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    parser.add_argument("--threads", type=int, default=None)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    names = [name for name in args.backends.split(",") if name]
    unknown = [name for name in names if name not in BACKENDS]
    if unknown or REFERENCE not in names:
        sys.exit(f"--backends: unknown {unknown} or {REFERENCE} missing; known: {BACKENDS}")
    if not (DATA / "switchgrass").is_dir() or not (DATA / "peanut").is_dir():
        sys.exit(f"needs {DATA}/switchgrass and {DATA}/peanut")
    if any(name.startswith("onnxruntime") for name in names) and not _has("onnxruntime"):
        sys.exit("onnxruntime is not installed: pip install 'rptui[onnx]', or leave it out")
    threads = set_cpu_threads(args.threads)
    try:
        bare = model_from_snapshot(load_model_file(args.model)).eval()
    except (OSError, ModelFileError) as exc:
        sys.exit(f"--model {args.model}: {exc}")
    tiles = [int(t) for t in args.tiles.split(",")] if args.tiles else [args.train_tile, 572]
    print(
        f"# {args.model}; {threads} threads, torch {torch.__version__}, tta {args.tta}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    backends = [make_backend(name, bare, threads) for name in names]
    peanut = sorted((DATA / "peanut" / "images").glob("*.jpg"))
    images = {"peanut 736x552": read_image(peanut[0])[:, :, :3]}
    if args.big:
        big = _mosaic(peanut)
        images[f"peanut mosaic {big.shape[1]}x{big.shape[0]}"] = big
    agreement = held_out_agreement(backends, args.train_tile, args.held_out, args.tta)
    if agreement:
        print(
            f"\n## Masks against {REFERENCE}: {args.held_out} held-out switchgrass photos at "
            f"{args.train_tile} px"
        )
        print("| backend | pixel agreement | F1 vs hand | F1 difference |\n|---|---|---|---|")
    for name, same, f1, reference_f1 in agreement:
        print(f"| {name} | {100 * same:.3f} % | {f1:.4f} | {f1 - reference_f1:+.4f} |")
    if args.rounds < 1:
        return
    agreeing = timing(backends, images, tiles, args.rounds, args.tta)
    print(
        f"\n## Seconds per image (median of {args.rounds}); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "| case | backend | s/image | vs fp32 eager | vs bf16 eager | first run | setup | "
        "mask agreement |\n|---|---|---|---|---|---|---|---|"
    )
    medians = {
        (b.name, case): statistics.median(s) for b in backends for case, s in b.seconds.items()
    }
    for case in backends[0].seconds:
        fp32 = medians[(REFERENCE, case)]
        bf16 = medians.get(("eager-bf16-cl", case))
        for b in backends:
            s = medians[(b.name, case)]
            vs_bf16 = f"{bf16 / s:.2f}x" if bf16 else "-"
            same = 100 * agreeing[(b.name, case)]
            print(
                f"| {case} | {b.name} | {s:.2f} | {fp32 / s:.2f}x | {vs_bf16} | "
                f"{b.first_s[case]:.1f} | {b.setup_s:.1f} | {same:.3f} % |"
            )


if __name__ == "__main__":
    main()
