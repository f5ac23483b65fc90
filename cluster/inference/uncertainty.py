"""How unsure a model is about an image: one number to order the annotator's work by.

The score of a foreground probability map ``p`` (HxW, values in [0, 1]) is::

    score = mean(H(p)) + mean(d)

where ``H(p) = -(p log2 p + (1 - p) log2 (1 - p))`` is the binary entropy in bits
(0 for a confident pixel, 1 at p = 0.5) and ``d`` is the disagreement between the
passes that were averaged into ``p``: twice the standard deviation of the K pass
probabilities at each pixel, which for a model's plain and flipped passes is exactly
``|p_plain - p_flip|``, and for an ensemble spreads over every model and pass. Both
terms lie in [0, 1], so the score lies in [0, 2]; a higher score is a less sure model.

For a multi-class model the entropy term is the entropy of its K-class distribution
divided by ``log K`` (so it too lies in [0, 1]; for K = 2 it is the binary entropy), and
``d`` is the passes' disagreement on "not background".
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-7  # keeps log2 finite at p = 0 and p = 1


def binary_entropy(probability: np.ndarray) -> np.ndarray:
    """Per-pixel binary entropy in bits (0 where sure, 1 at p = 0.5), float32."""
    p = np.clip(np.asarray(probability, dtype=np.float32), EPSILON, 1.0 - EPSILON)
    entropy = -(p * np.log2(p) + (1.0 - p) * np.log2(1.0 - p))
    return np.clip(entropy, 0.0, 1.0)


def normalised_entropy(class_probability: np.ndarray) -> np.ndarray:
    """Per-pixel entropy of a K x H x W class distribution over ``log K``: HxW in [0, 1]."""
    p = np.asarray(class_probability, dtype=np.float32)
    if p.ndim != 3 or p.shape[0] < 2:
        raise ValueError(f"class probabilities must be K x H x W with K >= 2, got {p.shape}")
    p = np.clip(p, EPSILON, 1.0)
    entropy = -(p * np.log(p)).sum(axis=0) / np.float32(np.log(p.shape[0]))
    return np.clip(entropy, 0.0, 1.0)


def uncertainty_score(
    probability: np.ndarray, *, disagreement: np.ndarray | float | None = None
) -> float:
    """The image's uncertainty: mean entropy plus mean disagreement, in [0, 2].

    Args:
        probability: HxW foreground probability in [0, 1], or K x H x W class
            probabilities (a multi-class model's; entropy normalised by ``log K``).
        disagreement: HxW disagreement map of the averaged passes (see the module), or
            its mean; None counts as no disagreement (a single pass).
    """
    p = np.asarray(probability)
    if p.size == 0:
        raise ValueError("uncertainty of an empty probability map")
    entropy_map = normalised_entropy(p) if p.ndim == 3 else binary_entropy(p)
    entropy = float(entropy_map.mean())
    spread = 0.0 if disagreement is None else float(np.mean(disagreement))
    return entropy + min(max(spread, 0.0), 1.0)
