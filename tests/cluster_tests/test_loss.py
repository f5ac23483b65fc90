"""The training loss counts labelled pixels only."""

from __future__ import annotations

import pytest
import torch

from cluster.api import BACKGROUND, FOREGROUND, UNLABELLED
from cluster.nn.loss import CE_WEIGHT, masked_dice_ce_loss


def _labels(seed: int, shape: tuple[int, int, int] = (2, 12, 12)) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 3, shape, generator=generator)


def test_unlabelled_pixels_change_neither_loss_nor_gradient() -> None:
    labels = _labels(0)
    unlabelled = (labels == UNLABELLED).unsqueeze(1).expand(-1, 2, -1, -1)
    base = torch.randn(2, 2, 12, 12)
    perturbed = base + unlabelled * torch.randn(2, 2, 12, 12) * 50.0

    grads, values = [], []
    for logits in (base.clone(), perturbed.clone()):
        logits.requires_grad_(True)
        loss = masked_dice_ce_loss(logits, labels)
        loss.backward()
        values.append(loss.detach())
        grads.append(logits.grad)

    assert torch.equal(values[0], values[1])
    assert torch.equal(grads[0], grads[1])
    assert torch.count_nonzero(grads[0][unlabelled]) == 0
    assert torch.count_nonzero(grads[0][~unlabelled]) > 0


def test_unlabelled_pixels_do_not_reach_network_weights() -> None:
    """Through a 1x1 conv (no mixing across pixels), weights only see labelled inputs."""
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(3, 2, kernel_size=1)
    labels = _labels(1, (1, 10, 10))
    image = torch.rand(1, 3, 10, 10)
    changed = image.clone()
    changed[:, :, labels[0] == UNLABELLED] = torch.rand(3, int((labels == UNLABELLED).sum()))

    def weight_grad(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        conv.zero_grad()
        x = x.clone().requires_grad_(True)
        masked_dice_ce_loss(conv(x), labels).backward()
        assert x.grad is not None
        return conv.weight.grad.clone(), x.grad

    weights_a, input_grad = weight_grad(image)
    weights_b, _ = weight_grad(changed)
    torch.testing.assert_close(weights_a, weights_b, rtol=0, atol=1e-6)
    assert torch.count_nonzero(input_grad[:, :, labels[0] == UNLABELLED]) == 0


def test_loss_is_dice_plus_weighted_cross_entropy() -> None:
    labels = torch.tensor([[[FOREGROUND, BACKGROUND, UNLABELLED, FOREGROUND]]])
    logits = torch.tensor([[[[0.0, 2.0, 5.0, -1.0]], [[1.0, 0.0, -5.0, 1.0]]]])
    picked = logits[0, :, 0, [0, 1, 3]].T
    target = torch.tensor([1, 0, 1])
    probability = torch.softmax(picked, dim=1)[:, 1]
    dice = 1 - 2 * (probability * target).sum() / (probability.sum() + target.sum())
    ce = torch.nn.functional.cross_entropy(picked, target)
    expected = dice + CE_WEIGHT * ce
    torch.testing.assert_close(masked_dice_ce_loss(logits, labels), expected)


def test_without_foreground_the_loss_is_cross_entropy_alone() -> None:
    labels = torch.tensor([[[BACKGROUND, BACKGROUND, UNLABELLED]]])
    logits = torch.tensor([[[[0.5, -1.0, 3.0]], [[0.0, 2.0, 3.0]]]])
    picked = logits[0, :, 0, :2].T
    expected = torch.nn.functional.cross_entropy(picked, torch.tensor([0, 0]))
    torch.testing.assert_close(masked_dice_ce_loss(logits, labels), expected)


def test_nothing_labelled_gives_zero_loss_and_zero_gradient() -> None:
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    loss = masked_dice_ce_loss(logits, torch.zeros(1, 4, 4, dtype=torch.long))
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert logits.grad is not None and torch.count_nonzero(logits.grad) == 0


def test_better_predictions_give_lower_loss() -> None:
    labels = _labels(2)
    target = (labels == FOREGROUND).float()
    good = torch.stack([-4 * target + 2, 4 * target - 2], dim=1)
    assert masked_dice_ce_loss(good, labels) < masked_dice_ce_loss(-good, labels)


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(ValueError):
        masked_dice_ce_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 5, 5, dtype=torch.long))
