"""Shared fixtures: a throw-away project folder and ways to run the real CLI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parent.parent

# a test must never pick up the developer's own config or secrets
_KEEP = {"QUOTECAST_REGENERATE_GOLDENS"}  # test-suite switches, not product settings
for _var in [v for v in os.environ if v.startswith("QUOTECAST_") and v not in _KEEP]:
    del os.environ[_var]


class Project:
    """A folder with config.toml and queue/, as `quotecast init` plus examples leave it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config.toml"
        self.queue = root / "queue"
        self.var = root / "var"

    def write_config(self, text: str) -> None:
        self.config.write_text(text, encoding="utf-8")

    def add_item(self, name: str, text: str | bytes) -> Path:
        path = self.queue / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run the CLI in-process (fast), from the project folder."""
        from pipeline.cli import cli

        old = Path.cwd()
        os.chdir(self.root)
        try:
            return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        finally:
            os.chdir(old)

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the real `quotecast` in a subprocess, as a user would."""
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            cwd=self.root,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
        full_env.update(env or {})
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args],
            cwd=self.root,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


# A suite started under `nohup` (or as a background job of a non-interactive shell) inherits
# SIGINT ignored, and an ignored signal survives exec: every `quotecast` child would then
# ignore the Ctrl-C that tests/test_exit_codes.py sends. Give the suite the default a
# terminal gives; a handled signal is reset to the default in each child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


MINIMAL_CONFIG = """
data_dir = "var"
queue_dir = "queue"

[targets.outbox]
network = "outbox"
format = "square"
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """The example config and queue, copied into a fresh folder."""
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(ROOT / "config.example.toml", root / "config.toml")
    shutil.copytree(ROOT / "queue", root / "queue")
    yield Project(root)


@pytest.fixture
def bare_project(tmp_path: Path) -> Iterator[Project]:
    """A minimal config (one outbox target) and an empty queue."""
    root = tmp_path / "bare"
    (root / "queue").mkdir(parents=True)
    p = Project(root)
    p.write_config(MINIMAL_CONFIG)
    yield p


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures logging globally; in-process CLI runs must not leak that."""
    import logging

    names = ["", "urllib3", "requests_oauthlib", "oauthlib", "httpx", "httpcore", "PIL"]
    saved = {n: logging.getLogger(n).level for n in names}
    handlers = logging.getLogger().handlers[:]
    yield
    for n, level in saved.items():
        logging.getLogger(n).setLevel(level)
    logging.getLogger().handlers[:] = handlers
