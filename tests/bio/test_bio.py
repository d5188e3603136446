"""The bio site built from the ledger: grid, links, pages, feeds, escaping, rebuilds, deploy."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from PIL import Image

from pipeline.bio import CSP, build, build_and_deploy
from pipeline.hooks import after_posting
from pipeline.ledger import Ledger
from tests.bio.helpers import (
    EVIL_AUTHOR,
    EVIL_LINK,
    EVIL_QUOTE,
    copy_project,
    posted_project,
    settings_of,
    site,
    tracked,
)
from tests.conftest import Project

DRUCKER = "https://example.com/insights/culture-and-strategy"
KARPATHY = "https://www.reuters.com/business/autos-transportation/former-tesla-ai-executive-openai-founding-member-andrej-karpathy-joins-anthropic-2026-05-19/"
ATOM = "{http://www.w3.org/2005/Atom}"


class Page(HTMLParser):
    """Every tag with its attributes, and the visible text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def tiles(self) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if "data-slug" in a]


def configure(project: Project, extra: str) -> None:
    text = project.config.read_text(encoding="utf-8")
    marker = 'title = "Global Advisors — quotes"\n'
    project.config.write_text(text.replace(marker, marker + extra + "\n"), encoding="utf-8")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return posted_project(tmp_path_factory.mktemp("bio") / "proj")


@pytest.fixture
def posted(published: Project, tmp_path: Path) -> Project:
    return copy_project(published, tmp_path / "proj")


def test_publish_builds_one_card_per_item_newest_first(posted: Project) -> None:
    index = site(posted) / "index.html"
    assert index.is_file()  # the hook rebuilt it after the pass
    page = Page(index.read_text(encoding="utf-8"))
    slugs = [t["data-slug"] for t in page.tiles()]
    ledger = Ledger.open(posted.var)
    newest_first = list(dict.fromkeys(r.slug for r in ledger.posted()))
    ledger.close()
    assert len(slugs) == 5 == len(set(slugs))  # 10 posts, one card per item
    assert slugs == newest_first
    hrefs = {t["data-slug"]: t["href"] for t in page.tiles()}
    assert hrefs["drucker-culture-strategy"] == tracked(DRUCKER, "drucker-culture-strategy")
    assert hrefs["karpathy-anthropic-pretraining"] == tracked(
        KARPATHY, "karpathy-anthropic-pretraining"
    )
    assert hrefs["evil-link"] == tracked(EVIL_LINK, "evil-link")
    assert hrefs["lovelace-analytical-engine"] == "quotes/lovelace-analytical-engine.html"
    assert hrefs["evil-page"] == "quotes/evil-page.html"


def test_grid_uses_square_cards_as_sized_thumbnails_with_alt_text(posted: Project) -> None:
    page = Page((site(posted) / "index.html").read_text(encoding="utf-8"))
    images = [a for a in page.all("img") if (a.get("src") or "").startswith("thumbs/")]
    assert len(images) == 5
    for img in images:
        assert img["alt"] and img["alt"].startswith("Quote card:")
        assert img["width"] == "360" and img["height"] == "360"  # square beat the story card
        assert "720w" in (img["srcset"] or "")
        with Image.open(site(posted) / str(img["src"])) as im:
            assert im.size == (360, 360) and im.format == "WEBP"


def test_item_page_renders_commentary(posted: Project) -> None:
    html = (site(posted) / "quotes/lovelace-analytical-engine.html").read_text(encoding="utf-8")
    assert "<em>algebraic patterns</em>" in html  # the quote's emphasis
    assert "machine that <em>weaves</em> symbols" in html  # the Markdown body
    assert 'href="../index.html"' in html and 'href="../site.css"' in html


def test_everything_is_escaped_in_pages(posted: Project) -> None:
    for path in [site(posted) / "index.html", *sorted((site(posted) / "quotes").glob("*.html"))]:
        html = path.read_text(encoding="utf-8")
        page = Page(html)
        assert page.all("script") == [], path
        assert not any(k.startswith("on") for _, a in page.tags for k in a), path
        assert not any(
            (a.get("href") or "").lower().startswith("javascript") for a in page.all("a")
        ), path
        assert "<script" not in html.lower(), path
    evil = Page((site(posted) / "quotes/evil-page.html").read_text(encoding="utf-8"))
    text = "".join(evil.text)
    assert EVIL_QUOTE in text and EVIL_AUTHOR in text  # shown literally
    assert "<script>alert(2)</script>" in text and '<img src=x onerror="alert(4)">' in text
    assert not any("tracker.example" in (a.get("src") or "") for a in evil.all("img"))


def test_csp_and_only_local_resources(posted: Project) -> None:
    assert "default-src 'none'" in CSP and "img-src 'self'" in CSP and "style-src 'self'" in CSP
    for path in [site(posted) / "index.html", *sorted((site(posted) / "quotes").glob("*.html"))]:
        page = Page(path.read_text(encoding="utf-8"))
        metas = [m for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
        assert [m["content"] for m in metas] == [CSP]
        loaded = [a.get("src") for a in page.all("img")] + [
            a.get("href") for a in page.all("link") if a.get("rel") in ("stylesheet", "icon")
        ]
        for url in loaded:
            assert url and "://" not in url and not url.startswith("//"), url
    css = (site(posted) / "site.css").read_text(encoding="utf-8")
    assert "@import" not in css and "http" not in css.replace("http-equiv", "")
    assert (site(posted) / "fonts/Fraunces-Variable.ttf").is_file()
    assert (site(posted) / "fonts/OFL-Fraunces.txt").is_file()


def test_feeds_are_valid_and_escaped(posted: Project) -> None:
    configure(posted, 'base_url = "https://quotes.example.com/"')
    build(settings_of(posted))
    feed = json.loads((site(posted) / "feed.json").read_text(encoding="utf-8"))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Global Advisors — quotes"
    assert feed["home_page_url"] == "https://quotes.example.com/"
    assert feed["feed_url"] == "https://quotes.example.com/feed.json"
    assert len(feed["items"]) == 5
    ids = set()
    for it in feed["items"]:
        assert isinstance(it["id"], str) and it["id"] not in ids
        ids.add(it["id"])
        assert it["content_html"] and it["content_text"]
        assert datetime.fromisoformat(it["date_published"]).tzinfo is not None
        assert it["url"].startswith("https://") and it["image"].startswith("https://quotes.")
        assert "<script>" not in it["content_html"]
    by_id = {it["url"].split("?")[0]: it for it in feed["items"]}
    page_item = by_id["https://quotes.example.com/quotes/lovelace-analytical-engine.html"]
    assert "<em>weaves</em>" in page_item["content_html"]
    evil = next(it for it in feed["items"] if EVIL_AUTHOR in it["title"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evil["content_html"]
    assert any("utm_source=feed" in it["url"] for it in feed["items"])

    root = ET.parse(site(posted) / "feed.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    for child in ("id", "title", "updated", "author/" + ATOM + "name"):
        assert root.find(ATOM + child) is not None, child
    links = {ln.get("rel"): ln.get("href") for ln in root.findall(f"{ATOM}link")}
    assert links["self"] == "https://quotes.example.com/feed.xml"
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 5
    for e in entries:
        assert (e.findtext(f"{ATOM}id") or "").startswith("urn:uuid:")
        assert e.findtext(f"{ATOM}title")
        datetime.fromisoformat(e.findtext(f"{ATOM}updated") or "")
        link = e.find(f"{ATOM}link")
        assert link is not None and (link.get("href") or "").startswith("https://")
        content = e.find(f"{ATOM}content")
        assert content is not None and content.get("type") == "html"
        assert "<script>" not in (content.text or "")
    titles = [e.findtext(f"{ATOM}title") or "" for e in entries]
    assert any(EVIL_AUTHOR in t for t in titles)  # literal text after XML parsing


def test_rebuild_reuses_thumbnails_and_keeps_items_gone_from_the_queue(posted: Project) -> None:
    s = settings_of(posted)
    assert build(s).thumbs_made == 0
    (posted.queue / "drucker-culture-strategy.toml").unlink()
    (posted.queue / "lovelace-analytical-engine.md").unlink()
    result = build(s)
    assert result.cards == 5 and result.thumbs_made == 0
    page = Page((site(posted) / "index.html").read_text(encoding="utf-8"))
    hrefs = {t["data-slug"]: t["href"] for t in page.tiles()}
    # the ledger kept the link (tagged for the outbox); the page tags it for the bio
    assert hrefs["drucker-culture-strategy"] == tracked(DRUCKER, "drucker-culture-strategy")
    # its page stays: posts already link to it
    assert hrefs["lovelace-analytical-engine"] == "quotes/lovelace-analytical-engine.html"
    assert (site(posted) / "quotes/lovelace-analytical-engine.html").is_file()
    alts = [a["alt"] for a in page.all("img") if (a.get("src") or "").startswith("thumbs/")]
    assert any("Peter Drucker" in (alt or "") for alt in alts)
    assert not list(site(posted).rglob("*.tmp"))
    # a web server (another user) can read every file it serves
    files = [f for f in site(posted).rglob("*") if f.is_file() and "media" not in f.parts]
    assert files and all(f.stat().st_mode & 0o444 == 0o444 for f in files)


def test_thumbnails_of_cards_no_longer_posted_are_removed(posted: Project) -> None:
    thumbs = site(posted) / "thumbs"
    stale = thumbs / "gone-0123456789ab-360.webp"
    stale.write_bytes(b"old")
    build(settings_of(posted))
    assert not stale.exists() and len(list(thumbs.iterdir())) == 15


def test_empty_ledger_builds_a_friendly_page(bare_project: Project) -> None:
    result = build(settings_of(bare_project))
    assert result.cards == 0
    html = (site(bare_project) / "index.html").read_text(encoding="utf-8")
    assert "Nothing posted yet" in html
    json.loads((site(bare_project) / "feed.json").read_text(encoding="utf-8"))
    ET.parse(site(bare_project) / "feed.xml")


def test_item_without_link_links_to_its_page_when_base_url_is_set(project: Project) -> None:
    configure(project, 'base_url = "https://quotes.example.com"')
    r = project.cli("publish", "--now", "lovelace-analytical-engine", "-t", "outbox")
    assert r.exit_code == 0, r.output
    meta = json.loads(
        (project.var / "outbox/outbox/lovelace-analytical-engine.json").read_text(encoding="utf-8")
    )
    assert meta["link"] == (
        "https://quotes.example.com/quotes/lovelace-analytical-engine.html"
        "?utm_source=outbox&utm_medium=social&utm_campaign=lovelace-analytical-engine"
    )
    assert meta["link"] in meta["caption"]
    assert (site(project) / "quotes/lovelace-analytical-engine.html").is_file()


# -- deploy ---------------------------------------------------------------------------


def test_deploy_runs_after_the_build_with_the_site_folder(posted: Project) -> None:
    script = posted.root / "deploy.py"
    script.write_text(
        "import shutil, sys\nshutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True)\n"
    )
    configure(posted, f"deploy = {json.dumps(f'{sys.executable} deploy.py {{site}} public')}")
    result = build_and_deploy(settings_of(posted))
    assert result.deploy is not None and result.deploy.ok, result.deploy
    assert (posted.root / "public/index.html").read_bytes() == (
        site(posted) / "index.html"
    ).read_bytes()


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ('"false"', "site.deploy (false) exited 1"),
        ('"no-such-deploy-command --now"', "command 'no-such-deploy-command' not found"),
        ("\"sh -c 'echo denied >&2; exit 3'\"", "exited 3: denied"),
        ('"sleep 5"\ndeploy_timeout = 0.2', "did not finish in 0.2s"),
        ('"rsync \'unclosed"', "not a valid command line"),
    ],
)
def test_failed_deploy_is_reported_not_raised(
    posted: Project, command: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    configure(posted, f"deploy = {command}")
    (site(posted) / "index.html").unlink()
    with caplog.at_level(logging.ERROR, logger="quotecast"):
        result = build_and_deploy(settings_of(posted))
        after_posting(settings_of(posted))  # the hook never raises either
    assert result.deploy is not None and not result.deploy.ok
    assert message in result.deploy.message
    assert (site(posted) / "index.html").is_file()  # the site stands
    assert "not deployed" in caplog.text


def test_data_folder_that_is_a_file_is_a_clear_error(bare_project: Project) -> None:
    from pipeline.errors import QuotecastError

    bare_project.var.mkdir()
    (bare_project.var / "site").write_text("not a folder")
    with pytest.raises(QuotecastError, match="cannot write the bio site"):
        build(settings_of(bare_project))


def test_brand_logo_is_served_locally_in_the_header(posted: Project) -> None:
    Image.new("RGB", (64, 64), "#F2B134").save(posted.root / "logo.png")
    text = posted.config.read_text(encoding="utf-8")
    posted.config.write_text(
        text.replace(
            'handle = "@globaladvisors"\n', 'handle = "@globaladvisors"\nlogo = "logo.png"\n'
        ),
        encoding="utf-8",
    )
    build(settings_of(posted))
    page = Page((site(posted) / "index.html").read_text(encoding="utf-8"))
    assert {"src": "logo.png", "alt": "", "width": "104", "height": "104"} in page.all("img")
    assert (site(posted) / "logo.png").read_bytes() == (posted.root / "logo.png").read_bytes()


def test_site_base_url_must_be_http(bare_project: Project) -> None:
    from pipeline.errors import ConfigError

    bare_project.write_config(
        bare_project.config.read_text() + '\n[site]\nbase_url = "ftp://quotes.example.com"\n'
    )
    with pytest.raises(ConfigError, match=r"site.base_url: .*only http and https"):
        settings_of(bare_project)
