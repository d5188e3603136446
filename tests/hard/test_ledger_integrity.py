"""Issue 17 cases 7 and 8: a damaged, empty or missing ledger, or an unusable ledger URL, is
refused with one line and exit status 2 — never silently replaced by a new, empty ledger
(which would post every item again).

Every test runs the real `quotecast` in a subprocess and checks the outbox afterwards: what
was posted once is never posted again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.integration.harness import add_items

OUTBOX_CONFIG = """
data_dir = "var"
queue_dir = "queue"

[formats.tiny]
width = 320
height = 180

[targets.outbox]
network = "outbox"
format = "tiny"
"""


def one_error_line(result: object, *needles: str) -> str:
    """The single `error:` line a failed command printed (no traceback), with `needles` in it."""
    stderr: str = result.stderr  # type: ignore[attr-defined]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def outbox_posts(project: Project) -> list[Path]:
    return sorted((project.var / "outbox").rglob("*.json"))


@pytest.fixture(scope="module")
def posted_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project that posted two items to the outbox through the real CLI (made once)."""
    root = tmp_path_factory.mktemp("posted") / "proj"
    (root / "queue").mkdir(parents=True)
    project = Project(root)
    project.write_config(OUTBOX_CONFIG)
    add_items(project, "alpha", "beta")
    first = project.run("publish", "--now", "--all", "--yes")
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(outbox_posts(project)) == 2
    return root


@pytest.fixture
def posted(posted_once: Path, tmp_path: Path) -> Project:
    """A copy of that project for one test to damage."""
    root = tmp_path / "proj"
    shutil.copytree(posted_once, root)
    return Project(root)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:100] = b"\x00" * 100
    path.write_bytes(bytes(data))


def _garbage_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for start in range(page, len(data), page):  # every page but the first (the header)
        data[start : start + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (_empty, "empty (0 bytes)"),
        (_truncate, "truncated"),
        (_garbage_header, "not an SQLite database"),
        (_garbage_pages, "damaged"),
    ],
    ids=["empty", "truncated", "garbage-header", "garbage-pages"],
)
def test_a_damaged_ledger_is_refused_and_never_recreated(
    posted: Project, damage: object, says: str
) -> None:
    ledger = posted.var / "ledger.sqlite3"
    damage(ledger)  # type: ignore[operator]
    before = ledger.read_bytes()
    for command in (("publish", "--now", "--all", "--yes"),):
        result = posted.run(*command)
        assert result.returncode == 2, result.stdout + result.stderr
        one_error_line(result, "ledger.sqlite3", says)
    assert ledger.read_bytes() == before  # left as it was, for a person to restore
    assert len(outbox_posts(posted)) == 2  # nothing posted again


@pytest.mark.parametrize("left", ["outbox and cards", "cards only"])
def test_a_missing_ledger_beside_earlier_posts_is_reported_not_a_fresh_start(
    posted: Project, left: str
) -> None:
    (posted.var / "ledger.sqlite3").unlink()
    if left == "cards only":  # posts to networks leave no outbox
        shutil.rmtree(posted.var / "outbox")
    result = posted.run("publish", "--now", "--all", "--yes")
    assert result.returncode == 2, result.stdout + result.stderr
    one_error_line(result, "ledger is missing", "backup")
    assert not (posted.var / "ledger.sqlite3").exists()
    assert not (posted.var / "outbox").exists() or len(outbox_posts(posted)) == 2


def test_a_dry_run_before_the_first_post_is_still_a_fresh_start(bare_project: Project) -> None:
    bare_project.write_config(OUTBOX_CONFIG)
    add_items(bare_project, "alpha")
    assert bare_project.run("publish", "--dry-run").returncode == 0
    first = bare_project.run("publish", "--now", "--all", "--yes")
    assert first.returncode == 0, first.stderr
    assert len(outbox_posts(bare_project)) == 1


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url at all", "is not a database URL"),
        ("nosuchdb://quotecast:CANARY-pw-1@127.0.0.1/q", "unknown kind of database"),
        ("postgresql+pg8000://quotecast:CANARY-pw-1@127.0.0.1/q", "driver is not installed"),
    ],
    ids=["unparseable", "unknown-dialect", "missing-driver"],
)
def test_an_unusable_ledger_url_is_one_line(bare_project: Project, url: str, says: str) -> None:
    bare_project.write_config(OUTBOX_CONFIG)
    add_items(bare_project, "alpha")
    result = bare_project.run(
        "publish", "--now", "--all", "--yes", env={"QUOTECAST_LEDGER_URL": url}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_error_line(result, says)
    assert "CANARY-pw-1" not in line + result.stdout
    assert not outbox_posts(bare_project)


def test_status_json_of_a_damaged_ledger_is_refused_too(posted: Project) -> None:
    _empty(posted.var / "ledger.sqlite3")
    result = posted.run("status", "--json")
    assert result.returncode == 2
    one_error_line(result, "empty")
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout or "")
