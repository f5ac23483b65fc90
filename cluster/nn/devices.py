"""Where the network runs: device choice, batch size, precision, CPU threads."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import torch

GIB = 1024**3
MAX_BATCH = 12
GPU_MEMORY_PER_TILE = 3.8 * GIB  # docs/method.md: min(12, GPU memory / 3.8 GB) at 572 px
CPU_BATCH = 2

Precision = Literal["auto", "fp32", "bf16", "fp16"]


@dataclass(frozen=True)
class DeviceInfo:
    """A torch device with what we need to know to use it well."""

    device: torch.device
    gpu_count: int  # CUDA devices the model can be spread over (0 on CPU/MPS)
    memory_bytes: int  # per GPU; 0 where unknown

    @property
    def kind(self) -> str:
        return self.device.type

    def describe(self) -> str:
        if self.kind == "cuda":
            name = torch.cuda.get_device_name(self.device)
            return f"{self.gpu_count}x {name} ({self.memory_bytes / GIB:.0f} GiB)"
        return self.kind


def pick_device(preferred: str | None = None) -> DeviceInfo:
    """CUDA (all visible GPUs) where present, then Apple MPS, then CPU."""
    if preferred:
        device = torch.device(preferred)
    elif torch.cuda.is_available():
        device = torch.device("cuda", 0)
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        count = torch.cuda.device_count()
        memory = torch.cuda.get_device_properties(device).total_memory
        return DeviceInfo(device, count, memory)
    return DeviceInfo(device, 0, 0)


def default_batch_size(info: DeviceInfo, tile_size: int = 572) -> int:
    """RootPainter's rule scaled by tile area: min(12, memory / 3.8 GB) per GPU, summed."""
    if info.kind != "cuda":
        return CPU_BATCH
    area_ratio = (572 / tile_size) ** 2
    per_gpu = int(info.memory_bytes * area_ratio // GPU_MEMORY_PER_TILE)
    return max(1, min(MAX_BATCH, per_gpu) * max(1, info.gpu_count))


def resolve_precision(info: DeviceInfo, precision: Precision) -> torch.dtype | None:
    """The autocast dtype for a precision setting; None means full fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if info.kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if info.kind == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return None


def cpu_supports_bf16() -> bool:
    """True where the CPU has native bf16 instructions (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@contextlib.contextmanager
def autocast(info: DeviceInfo, dtype: torch.dtype | None) -> Iterator[None]:
    """Mixed precision on the device, or nothing when ``dtype`` is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=info.kind, dtype=dtype):
        yield


def memory_format(info: DeviceInfo) -> torch.memory_format:
    """``channels_last`` is 2-3x faster for this network on CPU and fine on GPU."""
    return torch.channels_last if info.kind in ("cpu", "cuda") else torch.contiguous_format


def set_cpu_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads from what this process really holds.

    In a Ray actor ``OMP_NUM_THREADS`` is the actor's ``num_cpus``; elsewhere all cores.
    """
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS")
        threads = int(env) if env and env.isdigit() else (os.cpu_count() or 1)
    threads = max(1, threads)
    torch.set_num_threads(threads)
    return threads


def prepare_model(model: torch.nn.Module, info: DeviceInfo) -> torch.nn.Module:
    """Move a model to the device in its best memory format; spread over all GPUs."""
    # torch's overloads of Module.to leave out memory_format, which it takes
    model = model.to(info.device, memory_format=memory_format(info))  # type: ignore[call-overload]
    if info.kind == "cuda" and info.gpu_count > 1:
        model = torch.nn.DataParallel(model)
    return model
