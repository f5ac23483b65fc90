"""The command line: help for every subcommand, one-line user errors with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rptui.cli import build_parser, main

SUBCOMMANDS = [
    ["demo"],
    ["open"],
    ["dataset", "create"],
    ["project", "create"],
    ["project", "list"],
    ["project", "import"],
    ["project", "import-masks"],
    ["train"],
    ["status"],
    ["stop"],
    ["segment"],
    ["measure"],
    ["correlate"],
    ["models"],
    ["bench"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help(words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    assert exit_info.value.code == 0
    assert "usage: rptui" in capsys.readouterr().out


def test_global_options_come_before_the_subcommand(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--workspace", str(tmp_path), "--address", "h:1", "status"])
    assert args.workspace == tmp_path
    assert args.address == "h:1"


def test_bad_option_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["dataset", "create", "--no-such-option"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "error" in err


def test_missing_folder_is_a_user_error_without_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rptui.cli",
            "--workspace",
            str(tmp_path / "ws"),
            "dataset",
            "create",
            str(missing),
            "roots",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nowhere" in lines[0]
