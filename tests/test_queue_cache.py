"""The queue parse cache: the same items and problems as parsing, re-parsing only changes."""

from __future__ import annotations

import os
import time
from zoneinfo import ZoneInfo

from pipeline.items import load_queue
from pipeline.queue_cache import ParseCache, store_for
from tests.conftest import Project

TZ = ZoneInfo("Europe/London")


def _fill(project: Project) -> None:
    for i in range(5):
        project.add_item(
            f"item-{i}.toml",
            f'quote = "Quote {i}"\nauthor = "A"\ntags = ["x", "y"]\n'
            f'publish_at = 2026-12-0{i + 1}T09:00:00\ntargets = ["outbox"]\n',
        )
    project.add_item("page.md", '+++\nquote = "Q"\nauthor = "B"\n+++\nSome *commentary*.\n')
    project.add_item("broken.toml", 'quote = "no author"\nlink = "ftp://nope"\n')
    _age(project)


def _age(project: Project) -> None:
    """Files written an hour ago (a file changed within two seconds is always parsed)."""
    old = time.time_ns() - 3600 * 10**9
    for path in project.queue.iterdir():
        os.utime(path, ns=(old, old))


def test_cached_scan_equals_a_fresh_parse_and_parses_only_what_changed(
    bare_project: Project,
) -> None:
    _fill(bare_project)
    store = store_for(bare_project.var)
    first = ParseCache(store)
    scan = first.load(bare_project.queue, TZ)
    fresh = load_queue(bare_project.queue, TZ)
    assert scan.items == fresh.items and scan.problems == fresh.problems
    assert first.parsed == 7 and store.is_file()

    again = ParseCache(store)  # another command: everything comes from the file
    cached = again.load(bare_project.queue, TZ)
    assert again.parsed == 0
    assert cached.items == fresh.items and cached.problems == fresh.problems
    dated = {i.slug: i for i in cached.items}["item-0"].publish_at
    assert dated is not None and dated.tzinfo == TZ

    path = bare_project.queue / "item-2.toml"
    path.write_text('quote = "Changed"\nauthor = "A"\n', encoding="utf-8")
    os.utime(path, ns=(1, 1))  # even a file whose time went backwards
    (bare_project.queue / "item-4.toml").unlink()
    (bare_project.queue / "page.md").write_text("+++\nquote = 'R'\nauthor = 'B'\n+++\n")
    third = ParseCache(store)
    changed = third.load(bare_project.queue, TZ)
    assert third.parsed == 2  # the changed file and the one written just now
    assert changed.items == load_queue(bare_project.queue, TZ).items
    assert {i.slug: i.quote for i in changed.items}["item-2"] == "Changed"
    assert "item-4" not in store.read_text(encoding="utf-8")


def test_a_cache_file_that_is_not_json_is_ignored(bare_project: Project) -> None:
    _fill(bare_project)
    store = store_for(bare_project.var)
    store.parent.mkdir(parents=True)
    store.write_text("{not json", encoding="utf-8")
    cache = ParseCache(store)
    assert cache.load(bare_project.queue, TZ).items == load_queue(bare_project.queue, TZ).items
    assert cache.parsed == 7


def test_an_unchecked_parse_serves_a_checked_read_only_without_a_picture(
    bare_project: Project,
) -> None:
    """status and bio parse without checking pictures, publish with: the items without a
    picture are not parsed again; one with a picture is, and an unreadable one is refused."""
    _fill(bare_project)
    (bare_project.queue / "bad.png").write_bytes(b"not a picture at all")
    bare_project.add_item("pic.toml", 'quote = "Q"\nauthor = "C"\nimage = "bad.png"\n')
    _age(bare_project)
    store = store_for(bare_project.var)
    unchecked = ParseCache(store)
    loose = unchecked.load(bare_project.queue, TZ, check_images=False)
    assert unchecked.parsed == 8 and "pic" in {i.slug for i in loose.items}
    checked = ParseCache(store)
    scan = checked.load(bare_project.queue, TZ, check_images=True)
    assert checked.parsed == 2  # the item with a picture, and broken.toml (problems differ)
    fresh = load_queue(bare_project.queue, TZ, True)
    assert scan.items == fresh.items and scan.problems == fresh.problems
    assert "pic" not in {i.slug for i in scan.items}
    assert any(p.path.name == "pic.toml" and p.field == "image" for p in scan.problems)
