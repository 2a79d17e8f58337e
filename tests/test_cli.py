"""Every entry point answers ``--help`` without starting anything; the ``kesu`` command
dispatches to them; output cut short by a reader (``| head``) ends quietly."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).parent.parent
KESU = Path(sys.executable).parent / "kesu"


def run(
    command: list[str], tmp_path: Path, starts: bool = False
) -> subprocess.CompletedProcess[str]:
    data = tmp_path / "data"
    environment = {**os.environ, "KESU_DATA_DIR": str(data)}
    environment.pop("TEMPORAL_ADDRESS", None)
    done = subprocess.run(
        command, cwd=PROJECT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert starts or not data.exists(), f"{command} touched the data folder: it started something"
    return done


@pytest.mark.parametrize(
    "command",
    [
        ["worker.py", "--help"],
        ["starter.py", "--help"],
        ["api_server.py", "--help"],
    ],
)
def test_each_file_answers_help(command: list[str], tmp_path: Path) -> None:
    done = run([sys.executable, *command], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {command[0]}")


@pytest.mark.parametrize(
    ("arguments", "usage"),
    [
        (["--help"], "usage: kesu COMMAND"),
        (["worker", "--help"], "usage: kesu worker"),
        (["api", "--help"], "usage: kesu api"),
        (["report", "--help"], "usage: kesu report"),
    ],
)
def test_the_kesu_command_answers_help(arguments: list[str], usage: str, tmp_path: Path) -> None:
    assert KESU.exists(), "the kesu console script is installed by `pip install -e .`"
    done = run([str(KESU), *arguments], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(usage)


def test_the_kesu_command_runs_starter_commands(tmp_path: Path) -> None:
    done = run([str(KESU), "check"], tmp_path, starts=True)
    assert done.returncode == 0, done.stderr
    assert "ok  complaint" in done.stdout


def test_kesu_without_a_command_says_how(tmp_path: Path) -> None:
    done = run([str(KESU)], tmp_path)
    assert done.returncode == 2 and "kesu worker" in done.stdout


LONG_OUTPUT = """
import asyncio, starter
from runtime import exit_after

async def endless(args):
    for n in range(200_000):
        print(f"line {n}: 客诉 complaint")
    return 0

starter._main = endless
exit_after(starter.main(["check"]))
"""


@pytest.mark.parametrize("program", [["-c", LONG_OUTPUT], ["starter.py", "check"]])
def test_a_reader_leaving_early_is_no_error(program: list[str], tmp_path: Path) -> None:
    # `show ... | head`: head reads a line and leaves; kesu must not print a traceback.
    shell = f"{shlex.join([sys.executable, *program])} | head -n 1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], cwd=PROJECT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
