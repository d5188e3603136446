"""A project with posted items (including hostile ones) for the bio site tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipeline.config import Settings, load_settings
from pipeline.links import with_utm
from tests.conftest import Project

EVIL_QUOTE = "<script>alert(1)</script>"
EVIL_AUTHOR = '"><img src=x onerror=alert(1)>'
EVIL_LINK = "https://example.org/path?a=1&b=<b>#frag"


def add_evil_items(project: Project) -> None:
    """One hostile item with a link, one with commentary (so it gets its own page)."""
    project.add_item(
        "evil-link.toml",
        f"quote = {json.dumps(EVIL_QUOTE)}\n"
        f"author = {json.dumps(EVIL_AUTHOR)}\n"
        f"role = {json.dumps('</title><script>alert(5)</script>')}\n"
        f"link = {json.dumps(EVIL_LINK)}\n"
        'tags = ["<b>bold</b>", "safety"]\n',
    )
    project.add_item(
        "evil-page.md",
        "+++\n"
        f"quote = {json.dumps(EVIL_QUOTE)}\n"
        f"author = {json.dumps(EVIL_AUTHOR)}\n"
        "+++\n"
        "Commentary with <script>alert(2)</script> inline HTML,\n"
        "a [bad link](javascript:alert(3)), an image ![x](https://tracker.example/p.png)\n"
        'and <img src=x onerror="alert(4)"> — all of it shown as text.\n',
    )


def settings_of(project: Project) -> Settings:
    return load_settings(project.config)


def tracked(url: str, slug: str, source: str = "bio") -> str:
    return with_utm(url, source, "social", slug)


def site(project: Project) -> Path:
    return project.var / "site"


def posted_project(root: Path) -> Project:
    """The example config and queue plus the hostile items, published once to the outbox."""
    from tests.conftest import ROOT

    root.mkdir(parents=True)
    shutil.copy(ROOT / "config.example.toml", root / "config.toml")
    shutil.copytree(ROOT / "queue", root / "queue")
    project = Project(root)
    add_evil_items(project)
    result = project.cli("publish", "--now", "--all", "--yes")
    assert result.exit_code == 0, result.output
    return project


def copy_project(source: Project, root: Path) -> Project:
    """A private copy to change; the ledger's card paths still point at the source's cards."""
    shutil.copytree(source.root, root)
    return Project(root)
