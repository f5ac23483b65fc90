"""Multi-class engine: loss, per-class F1, model files, inference, uncertainty, data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cluster.api import AnnotatedImage, TrainingConfig
from cluster.inference.tiled import (
    segment,
    segment_classes,
    segment_probability,
    segment_with_uncertainty,
)
from cluster.inference.uncertainty import normalised_entropy, uncertainty_score
from cluster.io.model_files import ModelFileError, ensemble_classes, load_model_file, save_model
from cluster.nn.devices import pick_device
from cluster.nn.loss import masked_dice_ce_loss
from cluster.nn.model import UNetGNRes
from cluster.nn.snapshot import model_from_snapshot, snapshot_from_model
from cluster.simulate.synthetic_classes import CLASS_NAMES, generate_class_stack
from cluster.training.augment import augment
from cluster.training.confusion import class_confusions, mean_f1
from cluster.training.engine import TrainingEngine

CPU = pick_device("cpu")
TILE = 108
K = len(CLASS_NAMES)  # background and three foreground classes


def _logits_and_labels(seed: int, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, n_classes, 12, 12, generator=generator)
    labels = torch.randint(0, n_classes + 1, (2, 12, 12), generator=generator)
    return logits, labels


def _model(n_classes: int, *, seed: int = 0) -> UNetGNRes:
    torch.manual_seed(seed)
    return UNetGNRes(out_channels=n_classes).eval()


def _says(model: UNetGNRes, index: int) -> UNetGNRes:
    """Make the head's output constant, favouring class ``index`` everywhere."""
    norm = model.conv_out[2]
    with torch.no_grad():
        norm.weight.zero_()
        norm.bias.zero_()
        norm.bias[index] = 4.0
    return model


def test_unlabelled_pixels_change_neither_loss_nor_gradient() -> None:
    logits, labels = _logits_and_labels(0, K)
    logits.requires_grad_(True)
    loss = masked_dice_ce_loss(logits, labels)
    loss.backward()
    unlabelled = (labels == 0).unsqueeze(1).expand_as(logits)
    assert logits.grad is not None and bool(unlabelled.any())
    assert torch.all(logits.grad[unlabelled] == 0)
    assert torch.any(logits.grad[~unlabelled] != 0)
    changed = logits.detach().clone()
    changed[unlabelled] = 50.0  # wild values where nobody painted
    assert masked_dice_ce_loss(changed, labels).item() == pytest.approx(loss.item(), abs=1e-6)


def test_two_class_loss_is_the_binary_dice_plus_cross_entropy() -> None:
    logits, labels = _logits_and_labels(1, 2)
    picked = logits.permute(0, 2, 3, 1)[labels != 0]
    target = (labels[labels != 0] == 2).long()
    foreground = torch.softmax(picked, dim=1)[:, 1]
    dice = 1 - 2 * (foreground * target).sum() / (foreground.sum() + target.sum())
    expected = dice + 0.3 * F.cross_entropy(picked, target)
    assert masked_dice_ce_loss(logits, labels).item() == pytest.approx(expected.item(), rel=1e-6)


def test_dice_averages_only_the_classes_present() -> None:
    """A class nobody painted in the batch neither helps nor hurts the loss."""
    logits, labels = _logits_and_labels(2, K)
    labels[labels == 3] = 1  # class 2 (labels 3) absent
    four = masked_dice_ce_loss(logits, labels).item()
    picked = logits.permute(0, 2, 3, 1)[labels != 0]
    target = labels[labels != 0].long() - 1
    probabilities = torch.softmax(picked, dim=1)
    dices = [
        1
        - 2
        * (probabilities[:, c] * (target == c)).sum()
        / (probabilities[:, c].sum() + (target == c).sum())
        for c in (1, 3)
    ]
    expected = torch.stack(dices).mean() + 0.3 * F.cross_entropy(picked, target)
    assert four == pytest.approx(expected.item(), rel=1e-6)
    perfect = F.one_hot(target, K).float() * 30.0
    assert masked_dice_ce_loss(
        perfect.T.reshape(1, K, -1, 1), (target + 1).reshape(1, -1, 1)
    ).item() == pytest.approx(0.0, abs=1e-4)


def test_per_class_f1_on_a_hand_made_case() -> None:
    labels = np.array([[0, 1, 2, 2], [3, 3, 4, 0], [2, 1, 1, 3]], dtype=np.uint8)
    predicted = np.array([[1, 0, 1, 2], [2, 2, 3, 3], [0, 0, 1, 2]], dtype=np.uint8)
    pores, roots, grains = class_confusions(predicted, labels, n_classes=K)
    # class 1 (labels 2): truth at (0,2) (0,3) (2,0); predicted at (0,2) (2,2), (0,0) unlabelled
    assert (pores.tp, pores.fp, pores.fn, pores.tn) == (1, 1, 2, 6)
    # class 2 (labels 3): truth at (1,0) (1,1) (2,3), all found; also said at (0,3)
    assert (roots.tp, roots.fp, roots.fn, roots.tn) == (3, 1, 0, 6)
    # class 3 (labels 4): truth at (1,2), found; (1,3) is unlabelled
    assert (grains.tp, grains.fp, grains.fn, grains.tn) == (1, 0, 0, 9)
    expected = np.mean([2 / (2 + 1 + 2), 6 / (6 + 1), 1.0])
    assert mean_f1((pores, roots, grains)) == pytest.approx(expected)
    nowhere = np.where(predicted == 3, 0, predicted)  # class 3 neither painted nor predicted
    unseen = class_confusions(nowhere, np.where(labels == 4, 1, labels), n_classes=K)
    assert mean_f1(unseen) == pytest.approx(np.mean([2 / 5, 6 / 7]))  # class 3 not scored


def test_four_class_model_file_round_trip(tmp_path: Path) -> None:
    model = _model(K)
    snapshot = snapshot_from_model(model, version=3, f1=0.7, classes=CLASS_NAMES, tile_size=188)
    path = tmp_path / "000003_1700000000.pt"
    save_model(path, snapshot)
    loaded = load_model_file(path)
    assert loaded.classes == CLASS_NAMES
    assert loaded.state_dict["conv_out.0.weight"].shape[0] == K
    rebuilt = model_from_snapshot(loaded).eval()
    image = torch.rand(1, 3, TILE, TILE)
    with torch.no_grad():
        assert torch.allclose(rebuilt(image), model(image), atol=1e-5)
    bare = tmp_path / "000004_1700000000.pt"
    torch.save(model.state_dict(), bare)  # a file without our metadata
    assert load_model_file(bare).classes == ("background", "class1", "class2", "class3")
    save_model(tmp_path / "wrong.pt", snapshot_from_model(model, version=1))
    with pytest.raises(ModelFileError, match=r"2 classes .* 4 outputs"):
        load_model_file(tmp_path / "wrong.pt")


def test_multi_class_inference_gives_a_class_index_mask() -> None:
    image = np.random.default_rng(0).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    model = _model(K)
    mask, probability = segment([model], image, tile_size=TILE)
    classes = segment_classes([model], image, tile_size=TILE)
    assert mask.shape == (70, 90) and mask.dtype == np.uint8 and mask.max() < K
    assert classes.shape == (K, 70, 90)
    assert np.allclose(classes.sum(axis=0), 1.0, atol=1e-4)
    assert np.array_equal(mask, classes.argmax(axis=0))
    assert np.allclose(probability, 1.0 - classes[0], atol=1e-3)
    sure = _says(_model(K), 2)
    mask, probability = segment([sure], image, tile_size=TILE, tta=False)
    assert np.all(mask == 2) and np.all(probability > 0.8)
    not_background = segment_probability([sure], image, tile_size=TILE, tta=False)
    assert np.allclose(not_background, probability, atol=1e-3)


def test_ensembles_average_classes_and_refuse_mixed_class_lists(tmp_path: Path) -> None:
    image = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    says_1, says_3 = _says(_model(K), 1), _says(_model(K), 3)
    averaged = segment_classes([says_1, says_3, says_3], image, tile_size=TILE, tta=False)
    assert np.all(averaged[3] > averaged[1]) and np.all(averaged[1] > averaged[0])
    with pytest.raises(ValueError, match="different class counts"):
        segment([_model(K), _model(2)], image, tile_size=TILE)
    renamed = ("background", "air", "soil", "rock")
    for name, classes in (("a.pt", CLASS_NAMES), ("b.pt", renamed)):
        save_model(tmp_path / name, snapshot_from_model(_model(K), version=1, classes=classes))
    a, b = (load_model_file(tmp_path / name) for name in ("a.pt", "b.pt"))
    assert ensemble_classes([a, a], ["a.pt", "a.pt"]) == CLASS_NAMES
    with pytest.raises(ModelFileError, match="class lists differ"):
        ensemble_classes([a, b], ["a.pt", "b.pt"])


def test_multi_class_uncertainty_is_normalised_entropy() -> None:
    uniform = np.full((K, 5, 5), 1.0 / K)
    sure = np.zeros((K, 5, 5))
    sure[2] = 1.0
    assert uncertainty_score(uniform) == pytest.approx(1.0, abs=1e-5)
    assert uncertainty_score(sure) == pytest.approx(0.0, abs=1e-5)
    binary = np.stack([np.full((5, 5), 0.3), np.full((5, 5), 0.7)])
    assert uncertainty_score(binary) == pytest.approx(uncertainty_score(binary[1]), abs=1e-5)
    entropy = normalised_entropy(np.random.default_rng(0).dirichlet(np.ones(K), (6, 6)).T)
    assert np.all((entropy >= 0) & (entropy <= 1))
    image = np.random.default_rng(2).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    _, _, score = segment_with_uncertainty([_model(K)], image, tile_size=TILE)
    _, _, confident = segment_with_uncertainty([_says(_model(K), 1)], image, tile_size=TILE)
    assert 0.0 <= confident < score <= 2.0


def test_augmentation_keeps_every_class_label() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(K + 1, dtype=np.uint8), 20)[None].repeat(100, axis=0)
    image = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)
    for _ in range(10):
        _, out = augment(image, labels, rng)
        assert set(np.unique(out)) <= set(range(K + 1))


def test_engine_trains_a_four_class_head_and_scores_each_class() -> None:
    images, labels = generate_class_stack(slices=3, height=64, width=64, seed=0)
    config = TrainingConfig(
        classes=CLASS_NAMES, tile_size=TILE, batch_size=2, epoch_tiles=2, seed=0
    )
    engine = TrainingEngine(config, device=CPU, threads=1)
    for z, split in enumerate(("train", "train", "val")):
        engine.set_annotation(AnnotatedImage(f"s{z}", images[z], labels[z] + 1, split))
    record = engine.run_epoch()
    assert record is not None and len(record.class_f1) == K - 1
    assert min(record.class_f1) <= record.f1 <= max(record.class_f1)  # their mean
    best = engine.best_snapshot()
    assert best.classes == CLASS_NAMES
    assert best.state_dict["conv_out.0.weight"].shape[0] == K
    with pytest.raises(ValueError, match="beyond the project's 4 classes"):
        engine.set_annotation(AnnotatedImage("bad", images[0], labels[0] + 2, "train"))
    binary = snapshot_from_model(_model(2), version=1)
    with pytest.raises(ValueError, match="segments 2 classes"):
        TrainingEngine(config, start=binary, device=CPU, threads=1)


def test_generated_stack_is_deterministic_coherent_and_labelled() -> None:
    images, labels = generate_class_stack(slices=6, height=64, width=80, seed=5)
    again, same = generate_class_stack(slices=6, height=64, width=80, seed=5)
    assert images.shape == (6, 64, 80, 3) and images.dtype == np.uint8
    assert labels.shape == (6, 64, 80) and set(np.unique(labels)) <= set(range(K))
    assert np.array_equal(images, again) and np.array_equal(labels, same)
    neighbours = np.mean(labels[1:] == labels[:-1])
    distant = np.mean(labels[3:] == labels[:-3])
    assert neighbours > distant  # objects drift slowly through the stack
    grey = images[..., 0].astype(float)
    means = [grey[labels == k].mean() for k in range(K)]
    assert means[1] < means[2] < means[0] < means[3]  # air, root tissue, matrix, mineral
    _, two = generate_class_stack(slices=2, height=32, width=32, classes=2, seed=0)
    assert two.max() <= 2
