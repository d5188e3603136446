"""The bio site at scale: paginated, and a new post redoes only what it changed."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from pipeline.bio import PAGE_SIZE, build
from pipeline.config import load_settings
from tests.bio.test_bio import Page
from tests.conftest import Project
from tests.listing_helpers import queue_items, record_posted


def _tiles(path: Path) -> list[str]:
    page = Page(path.read_text(encoding="utf-8"))
    return [str(t["data-slug"]) for t in page.tiles()]


def test_index_shows_the_newest_page_and_old_archive_pages_are_left_alone(
    bare_project: Project,
) -> None:
    n = 2 * PAGE_SIZE + 10
    slugs = [f"item-{i:04d}" for i in range(n + 1)]
    queue_items(bare_project, slugs)
    record_posted(bare_project.var, slugs[:n])
    s = load_settings(bare_project.config)
    first = build(s)
    site = bare_project.var / "site"
    assert first.cards == n
    index = _tiles(site / "index.html")
    assert index == slugs[n - 1 : n - PAGE_SIZE - 1 : -1]  # the newest PAGE_SIZE, newest first
    assert _tiles(site / "archive-1.html") == slugs[:PAGE_SIZE][::-1]  # the oldest
    assert _tiles(site / "archive-3.html") == slugs[2 * PAGE_SIZE : n][::-1]
    links = Page((site / "index.html").read_text(encoding="utf-8")).all("a")
    assert {"archive-1.html", "archive-2.html", "archive-3.html"} <= {a.get("href") for a in links}

    kept = {k: (site / f"archive-{k}.html").stat().st_mtime_ns for k in (1, 2)}
    record_posted(bare_project.var, [slugs[n]], hour=n)  # one more post, the newest
    second = build(s)
    assert second.cards == n + 1
    assert second.tiles_made <= PAGE_SIZE + 1  # the index's page and the new entry, not n
    assert {k: (site / f"archive-{k}.html").stat().st_mtime_ns for k in (1, 2)} == kept
    assert slugs[n] in _tiles(site / "index.html")
    assert len(_tiles(site / "archive-3.html")) == 11
    assert build(s).tiles_made <= PAGE_SIZE  # nothing new: only the index's page again


def test_thumbnails_are_reused_without_decoding_the_card(bare_project: Project) -> None:
    card = bare_project.root / "card.png"
    Image.new("RGB", (1080, 1080), (20, 40, 60)).save(card)
    queue_items(bare_project, ["with-card"])
    record_posted(bare_project.var, ["with-card"], card=card)
    s = load_settings(bare_project.config)
    assert build(s).thumbs_made == 3
    # a card whose pixels can no longer be decoded (same name, size and time): its
    # thumbnails exist, so nothing decodes it; only its header is read
    st = card.stat()
    data = bytearray(card.read_bytes())
    data[41:] = bytes(len(data) - 41)  # the header stays; the image data is gone
    card.write_bytes(bytes(data))
    os.utime(card, ns=(st.st_atime_ns, st.st_mtime_ns))
    (bare_project.var / "cache" / "bio.json").unlink()  # forget the build: check from files
    again = build(s)
    assert again.thumbs_made == 0 and again.tiles_made == 1
    thumbs = sorted(p.name for p in (bare_project.var / "site" / "thumbs").iterdir())
    assert len(thumbs) == 3 and all(t.startswith("with-card-") for t in thumbs)
