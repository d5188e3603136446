"""Crash test for Instagram: a real `quotecast publish --now` killed with SIGKILL mid-flow.

The fake Graph API runs in this process and holds one request open; the subprocess is
killed while waiting on it; the fake then finishes (or not) what it was asked. After the
lease expires, the next pass must leave exactly one published story and a `posted` row
with its media id — never two stories, never a silent loss.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Project
from tests.fakes import CANARY, Fault
from tests.fakes.graph_api import FakeGraph
from tests.fakes.static_site import StaticSite
from tests.integration.instagram_project import SLUG, story_row, write_story_project

TOKEN = f"{CANARY}-ig-crash"
ENV = {"QUOTECAST_IG_ACCESS_TOKEN": TOKEN}
NODE = "GET /:version/:node"
PUBLISH = "POST /:version/:owner/media_publish"
LEASE = 5


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(token=TOKEN) as server:
        yield server


@pytest.fixture
def setup(bare_project: Project, fake: FakeGraph) -> Iterator[tuple[Project, StaticSite]]:
    """A project with one Instagram story target, its site served on 127.0.0.1."""
    with StaticSite(bare_project.var / "site") as site:
        write_story_project(
            bare_project,
            fake,
            site,
            options=["container_wait = 20"],
            publish=[
                "max_attempts = 2",
                "backoff_initial = 0.05",
                "backoff_max = 0.1",
                "max_total_seconds = 20",
                f"lease_seconds = {LEASE}",
                "request_timeout = 5",
            ],
        )
        yield bare_project, site


row = story_row


def kill_when(project: Project, fault: Fault) -> None:
    """Start a pass, SIGKILL it while the fake holds `fault`'s request, then release it."""
    proc = project.popen("publish", "--now", "--all", "--yes", env=ENV)
    try:
        if not fault.arrived.wait(60):
            proc.kill()
            out, err = proc.communicate(timeout=10)
            pytest.fail(f"the held request never arrived:\n{out}\n{err}")
        proc.kill()  # SIGKILL: no cleanup, no answer read
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert fault.hold is not None
    fault.hold.set()
    assert fault.done.wait(10)


def wait_for_lease(project: Project) -> None:
    state = row(project)
    assert state.state == "sending" and state.lease_until is not None
    remaining = state.lease_until.timestamp() - time.time()
    time.sleep(max(0.0, remaining) + 0.3)


def next_pass(project: Project) -> None:
    result = project.run("publish", "--now", "--all", "--yes", env=ENV, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert CANARY not in result.stdout + result.stderr


def test_killed_between_container_and_media_publish(
    setup: tuple[Project, StaticSite], fake: FakeGraph
) -> None:
    project, _ = setup
    held = fake.inject(NODE, Fault.held())  # the first status poll of the new container

    kill_when(project, held)

    assert len(fake.containers) == 1 and fake.published == []
    wait_for_lease(project)
    next_pass(project)

    assert len(fake.published) == 1 and fake.double_publish_attempts == 0
    assert len(fake.containers) == 1  # the journaled container was reused
    done = row(project)
    assert done.state == "posted" and done.remote_id == fake.published[0].id
    assert done.url == fake.published[0].permalink


@pytest.mark.parametrize("went_through", [True, False], ids=["meta-published", "meta-dropped"])
def test_killed_during_media_publish(
    setup: tuple[Project, StaticSite], fake: FakeGraph, went_through: bool
) -> None:
    project, site = setup
    # held, then either completed by the fake (Meta published) or dropped unprocessed
    held = fake.inject(
        PUBLISH, Fault(hold=threading.Event(), reset=not went_through, commit=went_through)
    )

    kill_when(project, held)

    assert len(fake.published) == (1 if went_through else 0)
    wait_for_lease(project)
    next_pass(project)

    assert len(fake.published) == 1 and fake.double_publish_attempts == 0
    assert len(fake.containers) == 1  # published or not, it was the one journaled container
    story = fake.published[0]
    assert story.image_url.startswith(f"{site.url}/media/")
    done = row(project)
    assert done.state == "posted" and done.remote_id == story.id and done.url == story.permalink
    history = json.loads(project.cli("history", SLUG, "--json").output)
    assert CANARY not in json.dumps(history)
