"""The load benchmark's annotations and memory figures.

The benchmarks run as scripts from this folder, so they import this module as ``load_data``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cluster.api import AnnotatedImage, Split
from cluster.simulate.clear_examples import clear_example_labels
from cluster.simulate.synthetic import generate_root_image
from cluster.training.spill import MIB
from rptui.store.project_config import choose_split

MEMORY_FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem")
KIB = 1024


@dataclass(frozen=True)
class Memory:
    """Resident memory of one process, MiB, from /proc/PID/status."""

    rss: float
    anon: float
    file: float
    shmem: float

    @classmethod
    def parse(cls, status: str) -> Memory:
        """The figures in the text of a /proc/PID/status file."""
        values = {}
        for line in status.splitlines():
            key, _, rest = line.partition(":")
            if key in MEMORY_FIELDS:
                values[key] = int(rest.split()[0]) * KIB / MIB
        return cls(*(values.get(name, float("nan")) for name in MEMORY_FIELDS))


def own_memory() -> Memory:
    """This process's resident memory."""
    return Memory.parse(Path("/proc/self/status").read_text())


def memory_table(title: str, rows: list[tuple[str, Memory, int, int]]) -> str:
    """A markdown table of memory figures: (when, memory, store resident, spilled bytes)."""
    lines = [
        f"**{title}**\n",
        "| when | RSS MiB | anon MiB | file MiB | shmem MiB | store resident MiB | spilled MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for when, memory, resident, spilled in rows:
        lines.append(
            f"| {when} | {memory.rss:.0f} | {memory.anon:.0f} | {memory.file:.0f} | "
            f"{memory.shmem:.0f} | {resident / MIB:.1f} | {spilled / MIB:.1f} |"
        )
    return "\n".join(lines)


def make_bases(count: int, side: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` generated images with a first user's clear-example labels."""
    bases = []
    for seed in range(count):
        image, mask = generate_root_image(seed=seed, height=side, width=side)
        labels = clear_example_labels(mask, rng=np.random.default_rng(seed))
        bases.append((image, labels))
    return bases


def variant(bases: list[tuple[np.ndarray, np.ndarray]], index: int) -> tuple[np.ndarray, ...]:
    """Annotation ``index``: a base image turned and rolled (a new one for each index)."""
    image, labels = bases[index % len(bases)]
    turn = index // len(bases)
    shift = 17 * (turn // 4)
    out = []
    for array in (image, labels):
        moved = np.roll(np.rot90(array, turn % 4), shift, axis=1)
        out.append(np.ascontiguousarray(moved))
    return tuple(out)


def annotations(bases: list[tuple[np.ndarray, np.ndarray]], count: int) -> Iterator[AnnotatedImage]:
    """``count`` annotations, split by the project's rule (docs/method.md), made one at a time."""
    splits: dict[str, Split] = {}
    for index in range(count):
        name = f"a{index:05d}"
        splits[name] = choose_split(splits)
        image, labels = variant(bases, index)
        yield AnnotatedImage(name, image, labels, splits[name])
