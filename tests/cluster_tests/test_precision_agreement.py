"""bf16 autocast, the CPU's default precision, gives the masks of full fp32.

A trained model (the shipped starter, loaded from its file) segments crops of held-out
switchgrass photos at its 124-px training tile in both precisions; the masks must agree on
>= 99.9 % of pixels and their F1 against the hand masks differ by <= 0.002
(figures on more photos: benchmarks/network_execution.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cluster.api import THRESHOLD
from cluster.inference.tiled import segment_probability
from cluster.io.images import read_image, read_mask
from cluster.io.model_files import load_model_file
from cluster.nn.devices import DeviceInfo, prepare_model
from cluster.nn.snapshot import model_from_snapshot
from cluster.training.confusion import Confusion, confusion

ROOT = Path(__file__).resolve().parents[2]
SWITCHGRASS = ROOT.parent / "shared" / "data" / "switchgrass"
STARTER = ROOT / "rptui" / "starters" / "roots.pt"  # trained at 124 px
# held-out photos (tube locations no training photo shows): each crop's (top, left), where
# the hand mask has the most roots
PHOTOS = {
    "DOE.S300_T312_L3_09.08.17_115803_1_FRMI_00.png": (468, 260),
    "DOE.S300_T352_L8_09.08.17_140236_1_FRMI_12.png": (52, 208),
    "DOE.S300_T352_L8_09.08.17_140236_1_FRMI_23.png": (0, 52),
}
CROP = 208  # 4 x 4 tiles of 124 px: seconds per precision
TILE = 124
CPU = DeviceInfo(torch.device("cpu"), 0, 0)

pytestmark = pytest.mark.skipif(
    not all((SWITCHGRASS / "images" / name).is_file() for name in PHOTOS) or not STARTER.is_file(),
    reason="../shared/data/switchgrass or the starter model is absent",
)


def _mask(model: torch.nn.Module, image: np.ndarray, dtype: torch.dtype | None) -> np.ndarray:
    probability = segment_probability(
        [model], image, tile_size=TILE, tta=False, device=CPU, dtype=dtype
    )
    return probability > THRESHOLD


def test_bf16_masks_match_fp32_on_held_out_switchgrass() -> None:
    torch.set_num_threads(2)
    model = prepare_model(model_from_snapshot(load_model_file(STARTER)), CPU).eval()
    same = pixels = 0
    fp32_counts, bf16_counts = Confusion(), Confusion()
    for name, (top, left) in PHOTOS.items():
        window = slice(top, top + CROP), slice(left, left + CROP)
        image = read_image(SWITCHGRASS / "images" / name)[window]
        hand = read_mask(SWITCHGRASS / "masks" / name, kind="binary")[window] > 0
        labels = hand.astype(np.uint8) + 1  # every pixel labelled: 1 background, 2 root
        fp32 = _mask(model, image, None)
        bf16 = _mask(model, image, torch.bfloat16)
        same += int((fp32 == bf16).sum())
        pixels += fp32.size
        fp32_counts = fp32_counts + confusion(fp32, labels)
        bf16_counts = bf16_counts + confusion(bf16, labels)
    assert fp32_counts.f1 > 0.3, "the model must find the roots for F1 to mean anything"
    assert same / pixels >= 0.999
    assert abs(bf16_counts.f1 - fp32_counts.f1) <= 0.002
