"""`publish --now` end to end through the real CLI and the outbox."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.conftest import Project


def outbox_files(project: Project) -> list[str]:
    return sorted(str(p.relative_to(project.var)) for p in (project.var / "outbox").rglob("*.*"))


def test_publish_now_twice_posts_once_and_says_so(project: Project) -> None:
    r = project.run("publish", "--now", "--all", "--yes")
    assert r.returncode == 0, r.stderr
    assert "published 6 posts (3 to outbox, 3 to outbox_story)" in r.stdout
    assert "outbox: var/outbox/" in r.stdout and "ledger: var/ledger.sqlite3" in r.stdout
    first = outbox_files(project)
    assert len(first) == 12  # json + image per post
    r = project.run("publish", "--now", "--all", "--yes")
    assert r.returncode == 0
    assert "nothing new to publish; 6 already posted earlier" in r.stdout
    assert outbox_files(project) == first


def test_outbox_holds_exactly_what_would_be_sent(project: Project) -> None:
    project.cli("publish", "--now", "--all", "--yes")
    meta = json.loads(
        (project.var / "outbox/outbox/karpathy-anthropic-pretraining.json").read_text()
    )
    assert meta["target"] == "outbox" and meta["item"] == "karpathy-anthropic-pretraining"
    assert "Andrej Karpathy" in meta["caption"] and "Andrej Karpathy" in meta["alt_text"]
    assert meta["link"].startswith("https://www.reuters.com/")
    assert "utm_source=outbox" in meta["link"]
    image = project.var / "outbox/outbox" / meta["image"]
    import hashlib

    assert hashlib.sha256(image.read_bytes()).hexdigest() == meta["image_sha256"]
    assert len(meta["content_hash"]) == 64
    leftovers = [p for p in (project.var / "outbox").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_dry_run_claims_and_writes_nothing(project: Project) -> None:
    r = project.run("publish", "--dry-run", "--all")
    assert r.returncode == 0, r.stderr
    assert "would publish 6 posts (3 to outbox, 3 to outbox_story)" in r.stdout
    assert "dry run: nothing claimed or sent" in r.stdout
    assert not (project.var / "outbox").exists()
    assert not (project.var / "ledger.sqlite3").exists()


def test_publish_without_now_explains_itself(project: Project) -> None:
    r = project.cli("publish")
    assert r.exit_code == 1 and "say --now to publish what is due now" in r.output


def test_publish_selected_slug_and_target(project: Project) -> None:
    r = project.cli("publish", "--now", "drucker-culture-strategy", "--target", "outbox")
    assert r.exit_code == 0, r.output
    assert outbox_files(project) == [
        "outbox/outbox/drucker-culture-strategy.json",
        "outbox/outbox/drucker-culture-strategy.png",
    ]
    r = project.cli("publish", "--now", "no-such-item")
    assert r.exit_code == 2 and "no queue item named 'no-such-item'" in r.output
    r = project.cli("publish", "--now", "--target", "nope")
    assert r.exit_code == 2 and "no target named 'nope'" in r.output


def test_status_and_history_json(project: Project) -> None:
    project.cli("publish", "--now", "drucker-culture-strategy")
    data = json.loads(project.cli("status", "--json").output)
    states = {(p["item"], p["target"]): p["state"] for p in data["posts"]}
    assert states[("drucker-culture-strategy", "outbox")] == "posted"
    assert states[("karpathy-anthropic-pretraining", "outbox")] == "pending"
    assert data["counts"] == {"posted": 2, "pending": 4}
    history = json.loads(project.cli("history", "--json").output)
    assert {(h["slug"], h["outcome"]) for h in history} == {("drucker-culture-strategy", "posted")}
    human = project.run("status")
    assert "posted" in human.stdout and "pending" in human.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; permissions do not apply")
def test_unwritable_data_folder_non_root(project: Project) -> None:
    project.var.mkdir()
    project.var.chmod(stat.S_IRUSR | stat.S_IXUSR)
    r = project.run("publish", "--now", "--all", "--yes")
    assert r.returncode == 2 and "data folder is not writable" in r.stderr


def test_unwritable_data_folder(project: Project) -> None:
    # a data folder that is a file cannot be written by anyone, root included
    (project.root / "var").write_text("not a folder")
    r = project.run("publish", "--now", "--all", "--yes")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "data folder is not writable" in r.stderr
    assert "Traceback" not in r.stderr


def test_resolve_and_retry_commands(project: Project) -> None:
    project.cli("publish", "--now", "drucker-culture-strategy", "--target", "outbox")
    db = sqlite3.connect(project.var / "ledger.sqlite3")
    db.execute(
        "UPDATE posts SET state='unknown', last_error='unknown: died' WHERE slug=? AND target=?",
        ("drucker-culture-strategy", "outbox"),
    )
    db.commit()
    r = project.cli("status")
    assert (
        "needs you" in r.output and "quotecast resolve drucker-culture-strategy outbox" in r.output
    )
    r = project.cli("resolve", "drucker-culture-strategy", "outbox")
    assert r.exit_code == 1 and "exactly one of --posted URL or --not-posted" in r.output
    r = project.cli("resolve", "drucker-culture-strategy", "outbox", "--posted", "https://e.com/1")
    assert r.exit_code == 0 and "now posted" in r.output
    db.execute("UPDATE posts SET state='failed', last_error='permanent: x' WHERE target='outbox'")
    db.commit()
    r = project.cli("retry", "--target", "outbox")
    assert "1 post re-queued" in r.output


def test_python_dash_m_and_fast_help(project: Project) -> None:
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - start
    assert "publish" in r.stdout and "status" in r.stdout
    # not a timing assertion of the product: a guard that --help imports nothing heavy
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pipeline", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    for heavy in ("PIL", "sqlalchemy", "tweepy", "atproto", "mastodon", "apscheduler", "rich"):
        assert f" {heavy}\n" not in out and f"| {heavy}" not in out, heavy
    assert elapsed < 5


def test_data_dir_from_config_is_relative_to_config_file(project: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = Project(elsewhere).run(
        "--config", str(project.config), "publish", "--now", "--all", "--yes"
    )
    assert r.returncode == 0, r.stderr
    assert (project.var / "ledger.sqlite3").exists()
    assert not (elsewhere / "var").exists()
