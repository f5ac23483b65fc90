"""When Ray's native core ends a command on the spot, the terminal is told why."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from rptui.exit_watch import last_words

TIMEOUT_S = 60
FATAL_LINE = "F1207 core_worker.cc:812: Check failed: the GCS at 127.0.0.1:1 went away"

# A command as the CLI runs one: fd 2 diverted into the driver log, the watcher started;
# then Ray's core prints its reason into the log and ends the process (or it ends normally).
COMMAND = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from cluster.head.connect import divert_native_stderr
    from rptui.exit_watch import watch_sudden_exit

    log, how = Path(sys.argv[1]), sys.argv[2]
    divert_native_stderr(log)
    watch_sudden_exit(log, sys.__stderr__)
    if how == "kill":
        os.kill(os.getpid(), 9)
    os.write(2, b"an earlier warning\\n" + sys.argv[3].encode() + b"\\n")
    os.write(2, b"*** StackTrace Information ***\\n    @ 0x7f frame one\\n")
    if how == "abort":
        os._exit(1)
    print("done")
    """
)


def run_command(log: Path, how: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", COMMAND, str(log), how, FATAL_LINE],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def test_an_abrupt_end_prints_the_logs_last_words_and_its_path(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "ray-driver.log"
    log.parent.mkdir()
    log.write_text("a line from an earlier command\n")
    done = run_command(log, "abort")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert str(log) in lines[0] and "ended abruptly" in lines[0]
    assert any(FATAL_LINE in line for line in lines)
    assert not any("frame one" in line or "earlier command" in line for line in lines)


def test_a_kill_from_outside_is_not_blamed_on_ray(tmp_path: Path) -> None:
    log = tmp_path / "ray-driver.log"
    done = run_command(log, "kill")
    assert done.returncode == -9
    said = done.stderr.strip()
    assert "killed from outside" in said and str(log) in said and "inside Ray" not in said


def test_a_normal_end_prints_nothing_more(tmp_path: Path) -> None:
    done = run_command(tmp_path / "ray-driver.log", "normal")
    assert done.returncode == 0 and done.stdout.strip() == "done"
    assert done.stderr == ""


def test_last_words_stop_at_the_stack_dump() -> None:
    text = "a\n\nb\n*** SIGABRT received\n  frame\n*** more\n"
    assert last_words(text) == ["a", "b"]
    assert last_words("*** marker first\nreason\n") == ["reason"]
