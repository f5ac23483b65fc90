"""Device decisions: CUDA over every GPU, then MPS, then CPU; batch size and precision.

This machine has no GPU, so the CUDA and MPS answers are checked with torch's device
queries replaced; the CPU answers are real.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from cluster.nn.devices import (
    CPU_BATCH,
    GIB,
    MAX_BATCH,
    DeviceInfo,
    default_batch_size,
    memory_format,
    pick_device,
    resolve_precision,
)


def _fake_cuda(monkeypatch: pytest.MonkeyPatch, *, count: int, memory_gib: float) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    properties = SimpleNamespace(total_memory=int(memory_gib * GIB))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: properties)


def _cuda(count: int, memory_gib: float) -> DeviceInfo:
    return DeviceInfo(torch.device("cuda", 0), count, int(memory_gib * GIB))


def test_every_visible_gpu_is_used_before_mps_or_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cuda(monkeypatch, count=4, memory_gib=80)
    info = pick_device()
    assert info.kind == "cuda" and info.gpu_count == 4 and info.memory_bytes == 80 * GIB


def test_apple_mps_comes_before_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    info = pick_device()
    assert info.kind == "mps" and info.gpu_count == 0
    assert memory_format(info) == torch.contiguous_format  # channels_last is a CPU/CUDA gain


def test_gpu_batch_follows_memory_capped_at_twelve_per_gpu() -> None:
    # docs/method.md: min(12, GPU memory / 3.8 GB) at 572 px, summed over the GPUs.
    assert default_batch_size(_cuda(1, 11), 572) == 2  # an RTX 2080 Ti
    assert default_batch_size(_cuda(2, 11), 572) == 4
    assert default_batch_size(_cuda(1, 80), 572) == MAX_BATCH  # an H100: capped
    assert default_batch_size(_cuda(1, 11), 286) == 11  # a quarter of the area per tile
    assert default_batch_size(_cuda(1, 2), 572) == 1  # never zero
    assert default_batch_size(pick_device("cpu"), 572) == CPU_BATCH


def test_gpu_mixed_precision_is_bf16_where_supported_else_fp16(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gpu = _cuda(1, 24)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision(gpu, "auto") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_precision(gpu, "auto") == torch.float16
    assert resolve_precision(gpu, "fp32") is None  # the setting wins over the device


def test_the_cpu_takes_bf16_only_where_it_has_the_instructions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cpu = pick_device("cpu")
    monkeypatch.setattr("cluster.nn.devices.cpu_supports_bf16", lambda: False)
    assert resolve_precision(cpu, "auto") is None
    monkeypatch.setattr("cluster.nn.devices.cpu_supports_bf16", lambda: True)
    assert resolve_precision(cpu, "auto") == torch.bfloat16
    assert memory_format(cpu) == torch.channels_last
