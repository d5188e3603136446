"""`quotecast init` is atomic: on any failure nothing is left behind, and running it again works."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import Project


def _init_with_file_size_limit(cwd: Path, limit: int) -> subprocess.CompletedProcess[str]:
    """Run the real `quotecast init` where no file may grow beyond `limit` bytes (a full disk)."""

    def limit_writes() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG error instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "init"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=limit_writes,
        timeout=60,
    )


def test_init_that_cannot_write_the_config_leaves_nothing_and_can_be_rerun(tmp_path: Path) -> None:
    r = _init_with_file_size_limit(tmp_path, 1000)  # the example config is far larger
    assert r.returncode == 1, r.stdout + r.stderr
    assert "error:" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "config.toml: cannot be written" in r.stderr and ".tmp" not in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []  # no empty config.toml, no temp file, no queue/

    again = Project(tmp_path).cli("init")
    assert again.exit_code == 0, again.output
    assert "wrote config.toml" in again.output
    assert "[targets.outbox]" in (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert (tmp_path / "queue").is_dir()


def test_init_with_a_file_where_queue_should_be_writes_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "queue").write_text("a file where the folder should be")
    r = Project(tmp_path).run("init")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "queue exists and is not a folder" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue"]

    (tmp_path / "queue").unlink()
    assert Project(tmp_path).run("init").returncode == 0
    assert (tmp_path / "config.toml").is_file() and (tmp_path / "queue").is_dir()


def test_init_rerun_leaves_an_existing_config_alone(tmp_path: Path) -> None:
    p = Project(tmp_path)
    assert p.cli("init").exit_code == 0
    (tmp_path / "config.toml").write_text("# mine\n", encoding="utf-8")
    r = p.cli("init")
    assert r.exit_code == 0, r.output
    assert "config.toml already exists; left unchanged" in r.output
    assert "queue/ already exists; left unchanged" in r.output
    assert (tmp_path / "config.toml").read_text(encoding="utf-8") == "# mine\n"
