"""How a model and its F1 are described, the same by the trainer's report and the app."""

from __future__ import annotations

import time

import pytest

from cluster.api import TrainerState, TrainerStatus, describe_model
from cluster.head.trainer_report import report_of


@pytest.mark.parametrize(
    ("version", "f1", "saved_f1", "expected"),
    [
        (0, None, None, "no model yet"),
        (1, 0.277, None, "model #1 (start)"),  # random weights: no F1 before training
        (1, 0.41, 0.9, "model #1 F1 0.410 (0.900 when saved)"),  # a start from elsewhere
        (5, 0.908, 0.908, "model #5 F1 0.908"),
        (5, 0.9081, 0.9079, "model #5 F1 0.908"),  # the same F1 as shown: said once
        (5, 0.855, 0.908, "model #5 F1 0.855 (0.908 when saved)"),
        (27, 0.6, None, "model #27 F1 0.600"),  # RootPainter's files record no F1
        (3, None, 0.9, "model #3 F1 –"),
    ],
)
def test_a_model_is_described_with_its_f1_now_and_when_saved(
    version: int, f1: float | None, saved_f1: float | None, expected: str
) -> None:
    assert describe_model(version, f1, saved_f1) == expected


def test_the_trainer_report_says_a_rescored_f1_as_the_app_does() -> None:
    status = TrainerStatus(
        TrainerState.TRAINING, epoch=7, best_f1=0.855, saved_f1=0.908, model_version=5
    )
    report = report_of(status)
    assert "model #5 F1 0.855 (0.908 when saved)" in report.describe()
    assert report.updated <= time.time()
