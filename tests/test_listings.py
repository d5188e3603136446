"""`status` and `history` at scale: summary first, the most recent rows, one line each."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, Project
from tests.listing_helpers import queue_items, record_failed, record_posted

LONG = "an-item-whose-slug-is-far-too-long-to-fit-in-a-column-of-any-reasonable-width"


def _slugs(n: int) -> list[str]:
    return [f"{LONG}-{i:03d}" for i in range(n)]


def _project(bare_project: Project, n: int = 30) -> Project:
    slugs = _slugs(n)
    queue_items(bare_project, [*slugs, "waiting-item"])
    record_posted(bare_project.var, slugs)
    record_failed(bare_project.var, "waiting-item", "auth: the token expired; renew it")
    return bare_project


def _rows(output: str) -> list[str]:
    return [
        line for line in output.splitlines() if line.startswith(("posted ", "pending ", "failed "))
    ]


def test_status_summarises_first_then_the_most_recent_rows_one_line_each(
    bare_project: Project,
) -> None:
    p = _project(bare_project)
    r = p.cli("status")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "quotecast status: 31 posts (1 failed, 30 posted)"
    assert lines[1].startswith("needs you: waiting-item → outbox is failed: auth: the token")
    assert "most recent 20 of 31" in r.output
    rows = _rows(r.output)
    assert len(rows) == 20
    assert all(len(line) <= 80 for line in lines)  # CliRunner's console is 80 columns wide
    # newest first: the failed post changed last, then the posts in reverse order
    assert rows[0].startswith("failed ")
    assert rows[1].startswith("posted   2026-01-06 14:00") and rows[1].endswith("-029")
    assert f"{LONG}-029"[:10] in rows[1] and "…" in rows[1]


def test_status_filters_all_limit_state_since(bare_project: Project) -> None:
    p = _project(bare_project)
    assert len(_rows(p.cli("status", "--all").output)) == 31
    assert len(_rows(p.cli("status", "--limit", "5").output)) == 5
    failed = _rows(p.cli("status", "--state", "failed").output)
    assert len(failed) == 1 and failed[0].startswith("failed ")
    since = _rows(p.cli("status", "--state", "posted", "--since", "2026-01-06T12:00").output)
    assert len(since) == 3  # 12:00, 13:00 and 14:00 on the 6th
    data = json.loads(p.cli("status", "--json", "--since", "2026-01-06T12:00").output)
    assert data["total"] == 4 and data["counts"] == {"posted": 30, "failed": 1}
    bad = p.cli("status", "--since", "yesterday-ish")
    assert bad.exit_code != 0 and "--since: 'yesterday-ish' is neither" in bad.output


def test_history_streams_every_attempt_one_line_each(bare_project: Project) -> None:
    p = _project(bare_project)
    r = p.cli("history", "--limit", "0")
    lines = [line for line in r.output.splitlines() if line.startswith("20")]
    assert len(lines) == 31  # 30 posted and one failed attempt
    assert lines[0].startswith("20") and "waiting-item → outbox  #0  auth  auth: the" in lines[0]
    assert all("#1  posted  …" in line for line in lines[1:])  # the URL's end is kept
    assert all(len(line) <= 80 for line in r.output.splitlines())
    rows = json.loads(p.cli("history", "--json", "--limit", "3").output)
    assert [row["outcome"] for row in rows][:1] == ["auth"] and len(rows) == 3
    assert json.loads(p.cli("history", "--json", "nothing-here").output) == []


def test_status_plan_history_and_help_import_only_what_they_use(bare_project: Project) -> None:
    p = _project(bare_project, n=2)
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from pipeline.cli import cli\n"
        "r = CliRunner().invoke(cli, sys.argv[1:], catch_exceptions=False)\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = ['twitter_text', 'pipeline.captions', 'pipeline.runner', 'apscheduler', "
        "'PIL.Image', 'pipeline.render', 'pipeline.publishers.x']\n"
        "print('heavy:' + ','.join(m for m in heavy if m in sys.modules))\n"
    )
    for args in (["status"], ["plan"], ["history"], ["--help"], ["status", "--json"]):
        r = subprocess.run(
            [sys.executable, "-c", script, *args],
            cwd=p.root,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().splitlines()[-1] == "heavy:", (args, r.stdout)
