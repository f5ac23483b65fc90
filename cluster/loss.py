"""The training loss: soft Dice + 0.3 x cross-entropy over labelled pixels only (METHOD.md).

Unlabelled pixels are removed before either term is computed, so they change neither
the loss nor any gradient (RootPainter zeroes their logits instead, which leaks them in).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cluster.api import FOREGROUND, UNLABELLED

CE_WEIGHT = 0.3


def masked_dice_ce_loss(
    logits: torch.Tensor, labels: torch.Tensor, *, ce_weight: float = CE_WEIGHT
) -> torch.Tensor:
    """Soft Dice on the foreground plus ``ce_weight`` x cross-entropy, over labelled pixels.

    Args:
        logits: N x 2 x H x W network output (background, foreground maps).
        labels: N x H x W integers: 0 unlabelled, 1 background, 2 foreground.
        ce_weight: weight of the cross-entropy term.

    Returns:
        A scalar. Cross-entropy alone when no labelled pixel is foreground; zero (still
        attached to the graph, so ``backward`` works and yields zero gradients) when
        no pixel is labelled at all.
    """
    if logits.ndim != 4 or logits.shape[1] != 2:
        raise ValueError(f"logits must be N x 2 x H x W, got {tuple(logits.shape)}")
    if labels.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    labelled = labels != UNLABELLED
    # Pixels x 2, only where labelled: unlabelled logits never enter the graph's maths.
    picked = logits.float().permute(0, 2, 3, 1)[labelled]
    if picked.shape[0] == 0:
        return logits.sum() * 0.0
    target = (labels[labelled] == FOREGROUND).long()
    cross_entropy = F.cross_entropy(picked, target)
    if not bool(target.any()):
        return cross_entropy
    foreground = torch.softmax(picked, dim=1)[:, 1]
    intersection = (foreground * target).sum()
    dice = 1.0 - 2.0 * intersection / (foreground.sum() + target.sum())
    return dice + ce_weight * cross_entropy
