"""The one-Instagram-story-target project both Instagram integration tests run against."""

from __future__ import annotations

from pipeline.ledger import Ledger, PostRow
from tests.conftest import Project
from tests.fakes.graph_api import IG_USER, VERSION, FakeGraph
from tests.fakes.static_site import StaticSite

SLUG = "stay-curious"


def write_story_project(
    project: Project,
    fake: FakeGraph,
    site: StaticSite,
    options: list[str],
    publish: list[str],
) -> None:
    """Config with target `ig` (story) pointed at `fake`, the site at `site`, and one item."""
    lines = [
        'data_dir = "var"',
        'queue_dir = "queue"',
        "",
        "[targets.ig]",
        'network = "instagram"',
        'format = "story"',
        "[targets.ig.options]",
        f'api_base = "{fake.url}/{VERSION}"',
        f'user_id = "{IG_USER}"',
        'kind = "story"',
        "poll_interval = 0.05",
        *options,
        "",
        "[site]",
        f'base_url = "{site.url}"',
        "",
        "[publish]",
        *publish,
    ]
    project.write_config("\n".join(lines) + "\n")
    project.add_item(
        f"{SLUG}.toml",
        'quote = "Stay curious."\nauthor = "Ada Lovelace"\n'
        'link = "https://example.com/q/stay-curious"\n',
    )


def story_row(project: Project) -> PostRow:
    """The ledger row of the one post (item SLUG on target ig)."""
    ledger = Ledger.open(project.var)
    try:
        found = ledger.get(SLUG, "ig")
    finally:
        ledger.close()
    assert found is not None
    return found
