"""The README cannot drift: its command reference is --help, its tour runs as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from cogapp import Cog

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_command_reference_is_the_current_help() -> None:
    status = Cog().main(["cog", "--check", "--diff", "-I", str(ROOT), str(README)])
    assert status == 0, "README.md's command reference is stale: run `make docs`"


def tour_commands(text: str) -> list[list[str]]:
    """The `quotecast …` lines of the README's "A 60-second tour" block, comments dropped."""
    section = text.split("## A 60-second tour", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "no ```sh block under 'A 60-second tour'"
    lines = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [words for words in lines if words and words[0] == "quotecast"]


def test_the_tour_is_what_the_parser_reads() -> None:
    commands = tour_commands(README.read_text(encoding="utf-8"))
    assert commands[0] == ["quotecast", "init"]
    assert ["quotecast", "publish", "--now"] in commands and len(commands) >= 8


def test_the_60_second_tour_runs_in_an_empty_folder(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
    for words in tour_commands(README.read_text(encoding="utf-8")):
        r = subprocess.run(
            [sys.executable, "-m", "pipeline", *words[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, f"{shlex.join(words)}:\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr, r.stderr
    assert (tmp_path / "config.toml").is_file() and any((tmp_path / "queue").iterdir())


def test_the_documented_shell_completion_lines_print_a_completion_script() -> None:
    text = README.read_text(encoding="utf-8")
    shells = re.findall(r"_QUOTECAST_COMPLETE=(\w+)_source quotecast", text)
    assert sorted(shells) == ["bash", "fish", "zsh"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
    for shell in shells:
        r = subprocess.run(
            [sys.executable, "-c", "from pipeline.cli import main; main()"],
            env={**env, "_QUOTECAST_COMPLETE": f"{shell}_source"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert "_QUOTECAST_COMPLETE" in r.stdout and "quotecast" in r.stdout, r.stdout
