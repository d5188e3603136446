"""The README's command reference, generated from each command's --help (run by cog).

`make docs` rewrites the block in README.md; tests/docs/test_readme.py fails while the
README differs from what this produces, so the reference cannot drift from the code.
"""

from __future__ import annotations

import click
from click.testing import CliRunner

from pipeline.cli import cli

WIDTH = 100


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], prog_name="quotecast", terminal_width=WIDTH)
    if result.exit_code != 0:
        raise RuntimeError(f"quotecast {' '.join(args)} --help failed: {result.output}")
    text = result.output.rstrip() + "\n"
    return text.removeprefix("Usage: ")


def markdown() -> str:
    """One section per command, in the order `quotecast --help` defines them."""
    assert isinstance(cli, click.Group)
    parts = ["### `quotecast`\n\n```\n" + _help([]) + "```\n"]
    for name in cli.commands:
        parts.append(f"### `quotecast {name}`\n\n```\n" + _help([name]) + "```\n")
    return "\n" + "\n".join(parts) + "\n"
