"""Bad situations every command meets with one clear line: no traceback, no harm done."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Project


@pytest.mark.parametrize(
    "args",
    [
        ("publish", "--now", "--all", "--yes"),
        ("publish", "--dry-run", "--all"),
        ("render",),
        ("status",),
        ("history",),
    ],
)
def test_a_data_folder_that_cannot_be_written_is_one_clear_line(
    project: Project, args: tuple[str, ...]
) -> None:
    # a data folder below a file cannot be created by anyone, root included
    (project.root / "blocker").write_text("not a folder")
    text = project.config.read_text(encoding="utf-8")
    project.write_config(text.replace('data_dir = "var"', 'data_dir = "blocker/var"'))
    r = project.run(*args)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert "blocker/var" in r.stderr and "error:" in r.stderr, r.stderr


def test_init_never_writes_through_a_dangling_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.toml"
    (tmp_path / "config.toml").symlink_to(elsewhere)
    r = Project(tmp_path).cli("init")
    assert r.exit_code == 0, r.output
    assert "already exists; left unchanged" in r.output
    assert not elsewhere.exists()


def test_resolve_accepts_only_a_web_url(project: Project) -> None:
    project.cli("publish", "--now", "drucker-culture-strategy", "--target", "outbox")
    db = sqlite3.connect(project.var / "ledger.sqlite3")
    db.execute(
        "UPDATE posts SET state='unknown' WHERE slug='drucker-culture-strategy' AND target='outbox'"
    )
    db.commit()
    db.close()
    r = project.cli("resolve", "drucker-culture-strategy", "outbox", "--posted", "javascript:x")
    assert r.exit_code == 1 and "only http and https links" in r.output, r.output
    r = project.cli(
        "resolve", "drucker-culture-strategy", "outbox", "--posted", "https://example.com/p/1"
    )
    assert r.exit_code == 0 and "now posted" in r.output, r.output


def test_a_secret_from_dotenv_is_scrubbed_from_log_lines(
    bare_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import Ctx

    secret = "CANARY-dotenv-app-password"
    (bare_project.root / ".env").write_text(f"QUOTECAST_BSKY_APP_PASSWORD={secret}\n")
    old = Path.cwd()
    os.chdir(bare_project.root)
    try:
        Ctx(None, 2, "text").settings  # noqa: B018 - loading the settings sets up logging
    finally:
        os.chdir(old)
    logging.getLogger("quotecast").warning("a careless line quoting %s", secret)
    err = capsys.readouterr().err
    assert "a careless line quoting" in err
    assert secret not in err
