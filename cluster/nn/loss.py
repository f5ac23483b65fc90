"""The training loss: soft Dice + 0.3 x cross-entropy over labelled pixels only (docs/method.md).

Unlabelled pixels are removed before either term is computed, so they change neither
the loss nor any gradient (RootPainter zeroes their logits instead, which leaks them in).
For K classes the head is one softmax over K outputs and the Dice term is the mean of
the foreground classes' soft Dice, over the classes present in the batch's labels; for
K = 2 that is exactly the binary loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cluster.api import UNLABELLED

CE_WEIGHT = 0.3


def masked_dice_ce_loss(
    logits: torch.Tensor, labels: torch.Tensor, *, ce_weight: float = CE_WEIGHT
) -> torch.Tensor:
    """Mean foreground soft Dice plus ``ce_weight`` x cross-entropy, over labelled pixels.

    Args:
        logits: N x K x H x W network output (K >= 2; channel 0 is background).
        labels: N x H x W integers: 0 unlabelled, class index + 1 for painted pixels
            (binary: 1 background, 2 foreground).
        ce_weight: weight of the cross-entropy term.

    Returns:
        A scalar. Cross-entropy alone when no labelled pixel is a foreground class; zero
        (still attached to the graph, so ``backward`` works and yields zero gradients)
        when no pixel is labelled at all.
    """
    if logits.ndim != 4 or logits.shape[1] < 2:
        raise ValueError(f"logits must be N x K x H x W with K >= 2, got {tuple(logits.shape)}")
    if labels.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"labels {tuple(labels.shape)} do not match logits {tuple(logits.shape)}")
    labelled = labels != UNLABELLED
    # Pixels x K, only where labelled: unlabelled logits never enter the graph's maths.
    picked = logits.float().permute(0, 2, 3, 1)[labelled]
    if picked.shape[0] == 0:
        return logits.sum() * 0.0
    target = (labels[labelled] - 1).long()  # class index
    cross_entropy = F.cross_entropy(picked, target)
    present = [int(c) for c in torch.unique(target).tolist() if c > 0]
    if not present:
        return cross_entropy
    probabilities = torch.softmax(picked, dim=1)
    dices = []
    for index in present:
        found = probabilities[:, index]
        truth = target == index
        intersection = (found * truth).sum()
        dices.append(1.0 - 2.0 * intersection / (found.sum() + truth.sum()))
    dice = dices[0] if len(dices) == 1 else torch.stack(dices).mean()
    return dice + ce_weight * cross_entropy
