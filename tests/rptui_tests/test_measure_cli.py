"""``rptui measure`` and ``rptui correlate`` from the command line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cluster.io.mask_formats import encode_mask
from rptui.cli import main

HAS_PARQUET = any(importlib.util.find_spec(name) for name in ("pyarrow", "fastparquet"))


def _mask(length: int) -> np.ndarray:
    mask = np.zeros((80, 80), dtype=np.uint8)
    mask[10, 5 : 5 + length] = 1
    mask[40:50, 40:50] = 1
    return mask


@pytest.fixture
def seg_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "seg"
    folder.mkdir()
    for index, fmt in enumerate(("png", "rootpainter", "rve", "png")):
        (folder / f"m{index}.png").write_bytes(encode_mask(_mask(20 + 10 * index), fmt=fmt))
    (folder / "broken.png").write_bytes(b"\x89PNG truncated")
    (folder / "notes.txt").write_text("not a mask")
    return folder


def test_measure_writes_one_row_per_image_and_survives_a_bad_file(
    seg_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table_path = tmp_path / "t.csv"
    code = main(
        [
            "measure",
            str(seg_dir),
            "--kind",
            "length,count,tips",
            "--px-per-mm",
            "4",
            "-o",
            str(table_path),
        ]
    )
    assert code == 0
    table = pd.read_csv(table_path)
    assert list(table["file"]) == ["broken.png", "m0.png", "m1.png", "m2.png", "m3.png"]
    assert table.loc[0, "error"] and np.isnan(table.loc[0, "length_px"])
    good = table.iloc[1:]
    # The same square in every mask and lines 10 px longer each time, in any format.
    assert list(np.diff(good["skeleton_pixels"])) == [10, 10, 10]
    assert list(good["count"]) == [2, 2, 2, 2]
    np.testing.assert_allclose(good["length_mm"], good["length_px"] / 4)
    out = capsys.readouterr().out
    assert "failed broken.png" in out and "4 of 5 masks measured" in out


def test_measure_regions_and_min_area(seg_dir: Path, tmp_path: Path) -> None:
    table_path = tmp_path / "regions.csv"
    assert main(["measure", str(seg_dir), "--kind", "regions", "-o", str(table_path)]) == 0
    table = pd.read_csv(table_path)
    good = table[table["error"].isna()]
    assert len(good) == 8 and set(good["area"]) >= {100}
    filtered = tmp_path / "big.csv"
    argv = ["measure", str(seg_dir), "--kind", "regions", "--min-area", "51", "-o", str(filtered)]
    assert main(argv) == 0
    big = pd.read_csv(filtered)
    assert list(big.loc[big["error"].isna(), "area"]) == [100] * 4


def test_measure_user_errors_exit_2(seg_dir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "t.csv")
    assert main(["measure", str(seg_dir), "--kind", "lenght", "-o", out]) == 2
    assert main(["measure", str(seg_dir), "--kind", "regions,count", "-o", out]) == 2
    assert main(["measure", str(tmp_path / "missing"), "-o", out]) == 2
    assert main(["measure", str(seg_dir), "-o", str(tmp_path / "t.xlsx")]) == 2


def test_measure_parquet(seg_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    code = main(["measure", str(seg_dir), "-o", str(path)])
    if HAS_PARQUET:
        assert code == 0 and len(pd.read_parquet(path)) == 5
    else:  # a clear one-line error before any work, not a crash
        assert code == 2 and not path.exists()


def test_correlate_prints_figures_plots_and_lists_unmatched(
    seg_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    auto = tmp_path / "auto.csv"
    assert main(["measure", str(seg_dir), "-o", str(auto)]) == 0
    manual = tmp_path / "manual.csv"
    pd.DataFrame(
        {
            "file": ["m0.jpg", "m1.jpg", "m2.jpg", "m3.jpg", "lost.jpg"],
            "ruler": [5, 7.6, 10, 12.4, 1],
        }
    ).to_csv(manual, index=False)
    capsys.readouterr()
    plot = tmp_path / "scatter.png"
    argv = [
        "correlate",
        str(auto),
        str(manual),
        "--auto-column",
        "length_px",
        "--manual-column",
        "ruler",
        "--plot",
        str(plot),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "n           4" in out
    r2 = float(next(line for line in out.splitlines() if line.startswith("R²")).split()[1])
    assert r2 > 0.99  # lengths grow with the ruler readings
    assert "unmatched in manual.csv (1): lost" in out
    assert "unmatched in auto.csv (1): broken" in out
    assert plot.stat().st_size > 1000
    bad = ["correlate", str(auto), str(manual), "--auto-column", "nope", "--manual-column", "ruler"]
    assert main(bad) == 2
