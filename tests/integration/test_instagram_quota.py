"""Instagram's publishing quota through a real `quotecast publish --now`: the post waits.

A used-up `content_publishing_limit` (seen before any container is made), and a quota
refusal by `media_publish` itself (code 9 / 2207042, no Retry-After), must both leave the
post `pending` with `not_before` set in the ledger — deferred, never `failed` — and the
next pass must leave it alone until then.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from pipeline.ledger import PostRow
from tests.conftest import Project
from tests.fakes import CANARY
from tests.fakes.graph_api import FakeGraph, graph_error
from tests.fakes.server import Fault
from tests.fakes.static_site import StaticSite
from tests.integration.instagram_project import story_row, write_story_project

TOKEN = f"{CANARY}-ig-quota"
ENV = {"QUOTECAST_IG_ACCESS_TOKEN": TOKEN}
CREATE = "POST /:version/:owner/media"
PUBLISH = "POST /:version/:owner/media_publish"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(token=TOKEN) as server:
        yield server


@pytest.fixture
def project(bare_project: Project, fake: FakeGraph) -> Iterator[Project]:
    with StaticSite(bare_project.var / "site") as site:
        write_story_project(
            bare_project,
            fake,
            site,
            options=[],
            publish=[
                "max_attempts = 3",
                "backoff_initial = 0.05",
                "backoff_max = 0.1",
                "max_total_seconds = 20",
                "request_timeout = 5",
            ],
        )
        yield bare_project


row = story_row


def publish(project: Project) -> str:
    result = project.run("publish", "--now", "--all", "--yes", env=ENV, timeout=60)
    out = result.stdout + result.stderr
    assert CANARY not in out
    assert "failed" not in row(project).state, out
    return out


def assert_deferred(project: Project) -> PostRow:
    done = row(project)
    assert done.state == "pending", done
    assert done.not_before is not None and done.not_before > datetime.now(UTC)
    assert done.last_error and "rate_limited" in done.last_error
    return done


def test_used_up_quota_defers_the_post_and_the_next_pass_leaves_it(
    project: Project, fake: FakeGraph
) -> None:
    fake.quota_total, fake.quota_used = 25, 25

    out = publish(project)

    assert "deferred" in out
    assert_deferred(project)
    assert fake.requests_to(CREATE) == [] and fake.published == []
    before = len(fake.requests)

    publish(project)  # not_before is ahead: no request at all for this post

    assert_deferred(project)
    assert len(fake.requests) == before and fake.published == []


def test_quota_refusal_by_media_publish_defers_instead_of_failing(
    project: Project, fake: FakeGraph
) -> None:
    refusal = graph_error(400, 9, "Application request limit reached", subcode=2207042)
    fake.inject(
        PUBLISH, *[Fault.error(refusal.status, refusal.body, refusal.headers) for _ in range(5)]
    )

    publish(project)

    assert_deferred(project)
    assert fake.published == [] and len(fake.containers) == 1
