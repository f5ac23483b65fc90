"""Real root photos for the learning benchmark: fixed splits, the simulated user, scoring.

The splits keep a location's photos together, so no held-out photo shows soil and roots
that an annotated one shows on another date or depth:

- peanut (176 photos of 45 tube locations, several dates each): whole locations are held
  out until 40 photos are; the annotation pool is 60 photos of the other locations, in
  a fixed shuffled order;
- switchgrass (31 photos, tube T312 locations L2, L3, L7 and tube T352 L8): L3 and the
  whole second tube (13 photos) are held out, the 18 photos of L2 and L7 are annotated.

The simulated user works like a person under a time budget: clear examples on the first
images (a share of the root skeleton traced, background on clear soil), then on each
later image the largest error regions of the model shown, one stroke plan each, with zero
spill (:func:`cluster.simulate.corrections.plan_corrections` restricted to those regions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from cluster.api import BACKGROUND, FOREGROUND, THRESHOLD
from cluster.inference.tiled import segment_probability
from cluster.io.images import read_image, read_mask
from cluster.measure.length import skeleton_length
from cluster.nn.devices import DeviceInfo
from cluster.simulate.annotation_time import MouseTimeModel, annotation_seconds
from cluster.simulate.clear_examples import clear_example_plan
from cluster.simulate.pace import plan_paced_corrections
from cluster.simulate.strokes import AnnotationPlan
from cluster.training.confusion import Confusion, confusion
from cluster.training.thresholds import CANDIDATES

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPLIT_SEED = 14  # fixes which peanut locations are held out; never tuned
PEANUT_HELD_OUT = 40
PEANUT_POOL = 60
CORRECTION_SECONDS = 40.0
SWEPT_THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8)  # also reported: F1 if root were called above these
VALIDATION_THRESHOLDS = CANDIDATES  # the trainer's own candidates
NEAR_PX = 2  # how far off a root's edge may be and still count as found (held-out "near" scores)
PEANUT_LOCATION = re.compile(r"_(T\d+_L\d+)_")
SWITCHGRASS_HELD_OUT = ("_T312_L3_", "_T352_")


@dataclass(frozen=True)
class Split:
    """Photos a user annotates (in serving order) and photos only ever scored."""

    annotate: list[Path]
    held_out: list[Path]

    def held_out_sample(self, count: int) -> list[Path]:
        """``count`` held-out photos spread evenly over the list (0: all of them)."""
        count = count or len(self.held_out)
        return self.held_out[:: max(1, len(self.held_out) // count)][:count]


def _mask_path(image: Path) -> Path:
    return image.parent.parent / "masks" / f"{image.stem}.png"


def peanut_split(folder: Path) -> Split:
    """Whole locations held out (40 photos), 60 photos of the rest to annotate."""
    images = sorted((folder / "images").glob("*.jpg"))
    by_location: dict[str, list[Path]] = {}
    for path in images:
        match = PEANUT_LOCATION.search(path.name)
        by_location.setdefault(match.group(1) if match else path.stem, []).append(path)
    rng = np.random.default_rng(SPLIT_SEED)
    locations = sorted(by_location)
    held_out: list[Path] = []
    pool: list[Path] = []
    for index in rng.permutation(len(locations)):
        photos = by_location[locations[index]]
        if len(held_out) + len(photos) <= PEANUT_HELD_OUT:
            held_out += photos
        else:
            pool += photos
    pool = [pool[i] for i in rng.permutation(len(pool))][:PEANUT_POOL]
    return Split(pool, sorted(held_out))


def switchgrass_split(folder: Path) -> Split:
    """L3 and tube T352 held out; the photos of L2 and L7 annotated, in name order."""
    images = sorted((folder / "images").glob("*.png"))
    held = [p for p in images if any(key in p.name for key in SWITCHGRASS_HELD_OUT)]
    return Split([p for p in images if p not in held], held)


SPLITS = {"peanut": peanut_split, "switchgrass": switchgrass_split}


def dataset_split(name: str) -> Split:
    return SPLITS[name](DATA / name)


def load_pair(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(H x W x 3 uint8 photo, H x W bool root mask)."""
    return read_image(path), read_mask(_mask_path(path), kind="binary").astype(bool)


@dataclass
class UserStyle:
    """The simulated user's mouse time per corrected photo (the paper's users: ~36 s a
    photo); clear examples take the simulator's own budget."""

    correction_seconds: float = CORRECTION_SECONDS


def clear_labels(mask: np.ndarray, style: UserStyle, rng: np.random.Generator) -> AnnotationPlan:
    """A clear example: the clearest roots and open soil, no model shown."""
    return clear_example_plan(mask, rng=rng)


def paced_corrections(mask: np.ndarray, predicted: np.ndarray, style: UserStyle) -> AnnotationPlan:
    """The largest errors first, within the time budget."""
    empty = np.zeros(mask.shape, dtype=np.uint8)
    return plan_paced_corrections(mask, predicted, empty, seconds=style.correction_seconds)


def mouse_seconds(plan: AnnotationPlan, shape: tuple[int, int]) -> float:
    """What painting ``plan`` costs a mouse user (the bench's own price)."""
    return annotation_seconds(plan, MouseTimeModel(), image_shape=shape)


@dataclass
class Shares:
    """Root pixel counts of validation photos: in the painted labels, in what the user
    accepted (painted where painted, else the shown segmentation; corrections only), and
    in the hand masks."""

    painted_root: int = 0
    painted_all: int = 0
    accepted_root: int = 0
    accepted_all: int = 0
    hand_root: int = 0
    hand_all: int = 0

    def add(self, labels: np.ndarray, shown: np.ndarray | None, mask: np.ndarray) -> None:
        root, background = labels == FOREGROUND, labels == BACKGROUND
        self.painted_root += int(np.count_nonzero(root))
        self.painted_all += int(np.count_nonzero(root | background))
        if shown is not None:
            accepted = np.where(root | background, root, shown > 0)
            self.accepted_root += int(np.count_nonzero(accepted))
            self.accepted_all += accepted.size
        self.hand_root += int(np.count_nonzero(mask))
        self.hand_all += mask.size

    @property
    def painted(self) -> float:
        return self.painted_root / max(self.painted_all, 1)

    @property
    def accepted(self) -> float:
        return self.accepted_root / max(self.accepted_all, 1)

    @property
    def hand(self) -> float:
        return self.hand_root / max(self.hand_all, 1)

    def background_weight(self) -> float:
        """What a painted background pixel counts for so that the painted labels hold
        root in the share the user accepted."""
        painted, accepted = self.painted, self.accepted
        if not 0 < painted < 1 or not 0 < accepted < 1:
            return 1.0
        return (painted / (1 - painted)) / (accepted / (1 - accepted))


@dataclass
class Score:
    """Every-pixel counts over the held-out photos and per-photo root lengths."""

    counts: Confusion = field(default_factory=Confusion)
    lengths: list[tuple[float, float]] = field(default_factory=list)  # (truth, predicted)
    # Within NEAR_PX of the other side: predicted root pixels near a true root, and true
    # root pixels near a predicted one (an edge one or two pixels off counts as near).
    near_predicted: int = 0
    predicted: int = 0
    near_truth: int = 0
    truth: int = 0
    # Counts with root called above each of SWEPT_THRESHOLDS instead of the model's own.
    swept: dict[float, Confusion] = field(default_factory=dict)

    def add_swept(self, probability: np.ndarray, mask: np.ndarray) -> None:
        for threshold in SWEPT_THRESHOLDS:
            counts = confusion(probability > threshold, mask.astype(np.uint8) + 1)
            self.swept[threshold] = self.swept.get(threshold, Confusion()) + counts

    def swept_text(self) -> str:
        """``0.4: 0.610, 0.5: 0.660, ...``: held-out F1 at each swept threshold."""
        return ", ".join(f"{t}: {c.f1:.3f}" for t, c in sorted(self.swept.items()))

    def add_nearness(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        near_truth_zone = distance_transform_edt(~truth) <= NEAR_PX
        near_predicted_zone = distance_transform_edt(~predicted) <= NEAR_PX
        self.near_predicted += int((predicted & near_truth_zone).sum())
        self.predicted += int(predicted.sum())
        self.near_truth += int((truth & near_predicted_zone).sum())
        self.truth += int(truth.sum())

    def near_precision(self) -> float:
        """Of the pixels called root, the share within NEAR_PX of a true root: what is
        left out is root called in soil, not a root drawn wider."""
        return self.near_predicted / self.predicted if self.predicted else float("nan")

    def near_recall(self) -> float:
        return self.near_truth / self.truth if self.truth else float("nan")

    def length_r2(self) -> float:
        if len(self.lengths) < 2:
            return float("nan")
        truth, found = np.array(self.lengths).T
        if truth.std() == 0 or found.std() == 0:
            return 0.0
        return float(np.corrcoef(truth, found)[0, 1] ** 2)


def held_out_score(
    model: torch.nn.Module,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    *,
    tile_size: int | None,
    device: DeviceInfo,
    dtype: torch.dtype | None,
    threshold: float = THRESHOLD,
) -> Score:
    """Segment each held-out photo (no flip pass) and score every pixel, root called
    above ``threshold`` (the model's own, as the product segments)."""
    score = Score()
    for image, mask in pairs:
        probability = segment_probability(
            [model], image, tile_size=tile_size, tta=False, device=device, dtype=dtype
        )
        predicted = probability > threshold
        score.counts = score.counts + confusion(predicted, mask.astype(np.uint8) + 1)
        score.lengths.append((skeleton_length(mask)[1], skeleton_length(predicted)[1]))
        score.add_nearness(predicted, mask.astype(bool))
        score.add_swept(probability, mask)
    return score
