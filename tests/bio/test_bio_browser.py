"""The bio page in real headless Chromium (Debian's), served over HTTP on localhost.

The grid shows at phone and desktop widths, every card links to its tracked
URL (utm_source=bio), hostile quotes and authors show as text and run nothing,
and the page asks for nothing outside its own folder.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.bio.helpers import (
    EVIL_AUTHOR,
    EVIL_LINK,
    EVIL_QUOTE,
    posted_project,
    site,
    tracked,
)
from tests.conftest import Project

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DRUCKER = "https://example.com/insights/culture-and-strategy"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed (/usr/bin/chromium); "
        "`apt-get install -y chromium` to run the browser tests",
    ),
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, str]]:
    project = posted_project(tmp_path_factory.mktemp("browser") / "proj")
    handler = functools.partial(_Quiet, directory=str(site(project)))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield project, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watch:
    """What a page did that it should not: dialogs, errors, requests leaving the site."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def _open(browser: Any, url: str, width: int, height: int) -> tuple[Any, Any, Watch]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(10_000)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    watch = Watch(origin)

    def on_dialog(d: Any) -> None:
        watch.dialogs.append(d.message)
        d.dismiss()

    def on_console(m: Any) -> None:
        if m.type in ("error", "warning"):
            watch.errors.append(m.text)

    def route(r: Any) -> None:
        if r.request.url.startswith(origin):
            r.continue_()
        else:  # nothing leaves this machine; a followed link is recorded here
            watch.outside.append(r.request.url)
            r.abort()

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.route("**/*", route)
    page.goto(url, wait_until="load")
    page.evaluate("document.fonts.ready.then(() => true)")
    return context, page, watch


@pytest.mark.parametrize(("width", "height", "columns"), [(390, 844, 2), (1280, 900, 3)])
def test_grid_shows_every_card(
    served: tuple[Project, str], browser: Any, width: int, height: int, columns: int
) -> None:
    project, url = served
    context, page, watch = _open(browser, url, width, height)
    try:
        tiles = page.locator(".grid .tile")
        assert tiles.count() == 5
        imgs = page.locator(".grid .tile img")
        assert imgs.count() == 5
        for i in range(5):
            img = imgs.nth(i)
            img.scroll_into_view_if_needed()
            img.evaluate("el => el.decode()")
            assert img.evaluate("el => el.complete && el.naturalWidth > 0")
            assert (img.get_attribute("alt") or "").startswith("Quote card:")
        tops = page.eval_on_selector_all(
            ".grid .tile", "els => els.map(e => Math.round(e.getBoundingClientRect().top))"
        )
        assert tops.count(tops[0]) == columns  # phone: two columns; desktop: three
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.locator("h1").inner_text() == "Global Advisors"
        family = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
        assert family.startswith("Fraunces")
        assert page.evaluate("document.fonts.check('600 32px Fraunces')")  # the local font
        page.screenshot(path=str(project.root / f"bio-{width}.png"), full_page=True)
        assert watch.outside == [] and watch.errors == [] and watch.dialogs == []
    finally:
        context.close()


def test_links_resolve_to_tracked_urls(served: tuple[Project, str], browser: Any) -> None:
    _, url = served
    context, page, watch = _open(browser, url, 1280, 900)
    try:
        hrefs = page.eval_on_selector_all(
            ".grid a.tile-link", "els => Object.fromEntries(els.map(e => [e.dataset.slug, e.href]))"
        )
        assert hrefs["drucker-culture-strategy"] == tracked(DRUCKER, "drucker-culture-strategy")
        assert hrefs["lovelace-analytical-engine"] == url + "quotes/lovelace-analytical-engine.html"
        external = {k: v for k, v in hrefs.items() if not v.startswith(url)}
        assert len(external) == 3
        for slug, href in external.items():
            assert "utm_source=bio&utm_medium=social&utm_campaign=" + slug in href
        # the hostile link is an attribute value, not markup: the browser parsed it whole
        evil = page.get_attribute('a[data-slug="evil-link"]', "href")
        assert evil == tracked(EVIL_LINK, "evil-link")
        # following a card goes to exactly the tracked URL (caught before it leaves)
        with page.expect_request(lambda r: not r.url.startswith(url)) as request:
            page.click('a[data-slug="drucker-culture-strategy"]')
        assert request.value.url == tracked(DRUCKER, "drucker-culture-strategy")
        assert watch.outside == [request.value.url] and watch.dialogs == []
    finally:
        context.close()


def test_item_page_opens_from_the_grid(served: tuple[Project, str], browser: Any) -> None:
    _, url = served
    context, page, watch = _open(browser, url, 390, 844)
    try:
        page.click('a[data-slug="lovelace-analytical-engine"]')
        page.wait_for_load_state("load")
        assert page.url == url + "quotes/lovelace-analytical-engine.html"
        assert "algebraic patterns" in page.locator("blockquote").inner_text()
        assert page.locator("blockquote em").inner_text() == "algebraic patterns"
        assert "weaves symbols" in page.locator(".commentary").inner_text().replace("\n", " ")
        img = page.locator(".card-large img")
        assert img.evaluate("el => el.complete && el.naturalWidth === 1080")
        page.click("a.back")
        page.wait_for_load_state("load")
        assert page.url in (url, url + "index.html")
        assert watch.outside == [] and watch.errors == [] and watch.dialogs == []
    finally:
        context.close()


def test_hostile_text_shows_literally_and_runs_nothing(
    served: tuple[Project, str], browser: Any
) -> None:
    project, url = served
    for path in ("", "quotes/evil-page.html"):
        context, page, watch = _open(browser, url + path, 390, 844)
        try:
            page.wait_for_timeout(150)  # time for anything that would run to run
            assert page.evaluate("document.scripts.length") == 0
            assert page.locator('img[src="x"]').count() == 0
            assert watch.dialogs == [], watch.dialogs
            assert watch.errors == [], watch.errors
            assert watch.outside == [], watch.outside
            if path:
                assert page.locator("blockquote p").inner_text() == f"“{EVIL_QUOTE}”"
                assert page.locator("blockquote cite").inner_text() == EVIL_AUTHOR
                body = page.locator(".commentary").inner_text()
                assert "<script>alert(2)</script>" in body
                assert '<img src=x onerror="alert(4)">' in body
                assert page.title().startswith(EVIL_AUTHOR)
                page.screenshot(path=str(project.root / "bio-evil-page.png"), full_page=True)
            else:
                alt = page.get_attribute('a[data-slug="evil-link"] img', "alt") or ""
                assert EVIL_QUOTE in alt and EVIL_AUTHOR in alt
                who = page.locator('a[data-slug="evil-link"] .who').inner_text()
                assert who == EVIL_AUTHOR
        finally:
            context.close()
