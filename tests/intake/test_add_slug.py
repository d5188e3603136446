"""Issue 17, case 10: `add --slug` follows the loader's slug rule and never writes
outside queue/."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.items import load_queue
from tests.conftest import Project


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "slug", ["/../somewhere/x", "../x", "sub/x", ".hidden", "UPPER Case", "-dash", "a" * 101, ""]
)
def test_add_refuses_a_slug_the_loader_would_not_read(bare_project: Project, slug: str) -> None:
    before = _all_files(bare_project.root.parent)
    r = bare_project.cli("add", "--quote", "Q.", "--author", "A", "--slug", slug)
    assert r.exit_code == 1, r.output
    assert r.output.startswith("error: --slug: ") and "is not a valid slug" in r.output
    assert len(r.output.strip().splitlines()) == 1, r.output
    assert _all_files(bare_project.root.parent) == before  # nothing written anywhere


def test_add_with_a_good_slug_writes_that_file(bare_project: Project) -> None:
    r = bare_project.cli("add", "--quote", "Q.", "--author", "A", "--slug", "my.quote_1")
    assert r.exit_code == 0, r.output
    assert [p.name for p in bare_project.queue.iterdir()] == ["my.quote_1.toml"]
    from zoneinfo import ZoneInfo

    assert load_queue(bare_project.queue, ZoneInfo("UTC")).problems == []
