"""Placing work by a node's custom resource, and GPUs a node declares but lacks (no Ray)."""

from __future__ import annotations

import pytest
import torch

from cluster.api import WORKER_RESOURCE_ENV, Placement
from cluster.backends.declared_gpus import absent_gpu_note
from cluster.nn.devices import DeviceInfo
from rptui.commands.segmenting import set_worker_resource
from rptui.errors import UserError

CPU = DeviceInfo(torch.device("cpu"), 0, 0)
CUDA = DeviceInfo(torch.device("cuda", 0), 1, 0)


def test_a_placement_asks_each_actor_for_a_share_of_the_resource() -> None:
    assert Placement().actor_resources() == {}
    share = Placement("gpu_box").actor_resources()
    assert list(share) == ["gpu_box"] and 0 < share["gpu_box"] <= 0.01


@pytest.mark.parametrize("name", ["", "two words", "tab\there", "GPU", "CPU"])
def test_a_bad_resource_name_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(ValueError, match="resource"):
        Placement(name)
    with pytest.raises(UserError, match="--worker-resource"):
        set_worker_resource(name)


def test_the_environment_names_the_default_placement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKER_RESOURCE_ENV, raising=False)
    assert Placement.from_environment() == Placement()
    monkeypatch.setenv(WORKER_RESOURCE_ENV, "gpu_box")
    assert Placement.from_environment() == Placement("gpu_box")


def test_declared_gpus_torch_cannot_use_are_named() -> None:
    note = absent_gpu_note(CPU, ["0", "1"])
    assert note is not None and "GPU 0, 1" in note and "running on cpu" in note
    assert absent_gpu_note(CPU, []) is None  # none declared to this process
    assert absent_gpu_note(CUDA, ["0"]) is None  # torch uses it
