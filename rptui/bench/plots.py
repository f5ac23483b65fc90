"""Charts of one or several bench runs: held-out F1 against annotated pixels and time."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cluster.io.atomic import write_bytes_atomic
from rptui.bench.records import CURVE_CSV, IMAGES_CSV, REPORT_JSON
from rptui.errors import UserError

PNG_DPI = 120
FIGURE_SIZE = (11.0, 4.2)
AXES = (
    ("total_annotated_px", "annotated pixels"),
    ("total_mouse_seconds", "annotation time, s (mouse model; keyboard dashed)"),
)
KEYBOARD_COLUMN = "total_keyboard_seconds"


def before_image(images: pd.DataFrame, column: str) -> pd.Series:
    """A running total as it stood before each image was annotated (live F1 is from then)."""
    if column == "total_annotated_px":
        return images[column] - images["annotated_fg"] - images["annotated_bg"]
    return images[column] - images["mouse_seconds"]


@dataclass(frozen=True)
class RunCurves:
    """One run's points: held-out F1 of its saved models, and the live F1 per image."""

    label: str
    curve: pd.DataFrame
    images: pd.DataFrame


def read_run(run_dir: Path) -> RunCurves:
    """Read a run folder's curve.csv, images.csv and report.json (UserError if it is none)."""
    run_dir = Path(run_dir)
    images_csv = run_dir / IMAGES_CSV
    if not images_csv.is_file():
        raise UserError(f"{run_dir} is not a bench run folder (no {IMAGES_CSV})")
    images = pd.read_csv(images_csv)
    curve_csv = run_dir / CURVE_CSV
    curve = pd.read_csv(curve_csv) if curve_csv.is_file() else pd.DataFrame()
    label = run_dir.name
    report = run_dir / REPORT_JSON
    if report.is_file():
        strategy = json.loads(report.read_text(encoding="utf-8")).get("strategy")
        label = f"{strategy} ({run_dir.name})" if strategy else label
    return RunCurves(label, curve, images)


def plot_runs(run_dirs: list[Path], output: Path) -> None:
    """Draw every run on one chart (two panels) and write it as PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    runs = [read_run(run_dir) for run_dir in run_dirs]
    figure = Figure(figsize=FIGURE_SIZE, dpi=PNG_DPI)
    panels = figure.subplots(1, len(AXES), sharey=True)
    for run_index, run in enumerate(runs):
        colour = f"C{run_index % 10}"
        for axes, (column, _) in zip(panels, AXES, strict=True):
            if not run.curve.empty:
                points = run.curve.sort_values(column)
                axes.plot(
                    points[column], points["f1"], "o-", color=colour, label=f"{run.label} held-out"
                )
                if column == "total_mouse_seconds":
                    keyboard = run.curve.sort_values(KEYBOARD_COLUMN)
                    axes.plot(keyboard[KEYBOARD_COLUMN], keyboard["f1"], "o--", color=colour)
            axes.plot(
                before_image(run.images, column),
                run.images["live_f1"],
                ".:",
                color=colour,
                alpha=0.6,
                label=f"{run.label} live, before correction",
            )
    for axes, (_, title) in zip(panels, AXES, strict=True):
        axes.set_xlabel(title)
        axes.set_ylim(0.0, 1.0)
        axes.grid(alpha=0.3)
    panels[0].set_ylabel("F1")
    panels[0].legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(output, buffer.getvalue())
