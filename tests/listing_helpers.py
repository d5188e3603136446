"""Projects with many posts recorded through the ledger's own operations (no rendering)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.ledger import Ledger
from tests.conftest import Project

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def queue_items(project: Project, slugs: list[str]) -> None:
    for i, slug in enumerate(slugs):
        project.add_item(
            f"{slug}.toml",
            f'quote = "Quote number {i} for the listing tests."\nauthor = "Author {i}"\n'
            f'link = "https://example.com/a/very/long/path/to/article/number/{i}"\n',
        )


def record_posted(
    var: Path, slugs: list[str], target: str = "outbox", card: Path | None = None, hour: int = 0
) -> None:
    """Each slug claimed, sent and posted to `target`, an hour apart in list order, the
    first `hour` hours after START."""
    ledger = Ledger.open(var)
    try:
        for i, slug in enumerate(slugs, start=hour):
            at = START + timedelta(hours=i)
            assert ledger.claim(slug, target, "outbox", "tests", 600, now=at)
            details = {"card_path": str(card) if card else None, "alt_text": f"alt {slug}"}
            ledger.mark_sending(slug, target, "tests", f"k-{slug}", f"h-{slug}", 600, details, at)
            url = f"https://social.example/@someone/posts/{i:020d}/{slug}"
            ledger.record_posted(slug, target, "tests", f"r{i}", url, at, now=at)
    finally:
        ledger.close()


def record_failed(var: Path, slug: str, reason: str, target: str = "outbox") -> None:
    ledger = Ledger.open(var)
    try:
        assert ledger.claim(slug, target, "outbox", "tests", 600)
        ledger.record_failed(slug, target, "tests", reason, "auth")
    finally:
        ledger.close()
