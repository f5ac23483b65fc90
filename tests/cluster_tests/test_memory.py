"""Memory: segmenting needs memory for a tile, not for the image; training does not grow.

The peak and resident sizes are measured in a fresh Python process each, so what the
test suite has already loaded or allocated does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from cluster.inference.lean import forward
from cluster.nn.model import UNetGNRes

MIB = 2**20


def _measure(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_lean_forward_gives_the_networks_output_exactly(
    classes: int, dtype: torch.dtype | None
) -> None:
    torch.manual_seed(0)
    model = UNetGNRes(out_channels=classes).eval()
    batch = torch.rand(1, 3, 124, 140).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        assert torch.equal(forward(model, batch), model(batch))


def test_lean_forward_leaves_training_to_the_network() -> None:
    model = UNetGNRes().train()
    out = forward(model, torch.rand(1, 3, 92, 92))
    assert out.grad_fn is not None  # gradients flow: the network's own forward ran


SEGMENT_PEAK = """
    import json, resource
    import numpy as np, torch
    from cluster.inference.planning import plan_tiles
    from cluster.inference.tiled import segment_probability
    from cluster.nn.model import UNetGNRes

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    torch.set_num_threads(2)
    torch.manual_seed(0)
    models = [UNetGNRes().eval()]
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    segment_probability(models, small, dtype=None)  # libraries and kernels loaded
    side, bound = 2000, 250_000
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    corner = np.zeros((side, side), dtype=bool)
    corner[0, 0] = True  # one tile computed; every full-image array still made
    before = peak()
    segment_probability(models, image, dtype=None, only_where=corner, max_batch_pixels=bound)
    tile = plan_tiles(side, side, tile_size=None, max_batch_pixels=bound)
    print(json.dumps({"growth": peak() - before, "tile": tile, "pixels": side * side}))
"""


def test_segmenting_a_large_image_needs_memory_for_a_tile_not_the_image() -> None:
    """A 4-megapixel image at fp32: the peak grows by less than four 64-channel float32
    maps of one tile (the network's own forward holds five at once, the lean one three)
    and a few bytes per image pixel (the output map), not by copies of the image."""
    measured = _measure(SEGMENT_PEAK)
    tile_pixels = measured["tile"][0] * measured["tile"][1]
    limit = 4 * 64 * 4 * tile_pixels + 8 * measured["pixels"]
    assert measured["growth"] < limit, (
        f"peak grew {measured['growth'] / MIB:.0f} MiB for a {measured['tile']} tile "
        f"(limit {limit / MIB:.0f} MiB)"
    )


TRAINING_RSS = """
    import json, tracemalloc
    import numpy as np
    from cluster.api import BACKGROUND, FOREGROUND, AnnotatedImage, TrainingConfig
    from cluster.training.engine import TrainingEngine

    def rss():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096

    rng = np.random.default_rng(0)
    config = TrainingConfig(
        tile_size=124, batch_size=2, epoch_tiles=2, seed=0, patience=1000, precision="fp32"
    )
    engine = TrainingEngine(config, threads=1)
    for index, split in enumerate(["train", "val"]):
        image = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
        labels = np.zeros((128, 128), dtype=np.uint8)
        labels[::7, :] = BACKGROUND
        labels[:, ::11] = FOREGROUND
        engine.set_annotation(AnnotatedImage(f"image{index}.png", image, labels, split))
    tracemalloc.start()  # Python objects and numpy arrays (model snapshots among them)
    sizes, traced = [], []
    for _ in range(12):
        assert engine.run_epoch() is not None
        sizes.append(rss())
        traced.append(tracemalloc.get_traced_memory()[0])
    print(json.dumps({"rss": sizes, "traced": traced}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_training_memory_does_not_grow_with_epochs() -> None:
    """12 short epochs. What Python and numpy hold (epoch records, snapshots, caches) after
    the last epoch is within 1 MiB of what they held after the third: a model snapshot kept
    per epoch would add 5 MiB each. The resident size, where the allocator's settling moves
    it by tens of MiB, must not keep climbing: the last epochs' lowest stays within 64 MiB
    of the first three's highest."""
    measured = _measure(TRAINING_RSS)
    traced = measured["traced"]
    assert traced[-1] - traced[2] < MIB, [round(size / MIB, 2) for size in traced]
    sizes = measured["rss"]
    assert min(sizes[-3:]) - max(sizes[:3]) < 64 * MIB, [round(size / MIB) for size in sizes]
