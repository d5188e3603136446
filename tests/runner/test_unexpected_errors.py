"""A client library's unexpected exception never aborts the pass nor leaks its text."""

from __future__ import annotations

from typing import ClassVar

import pytest

from pipeline.config import load_settings
from pipeline.ledger import Ledger
from pipeline.posts import Post, Receipt
from pipeline.publishers import REGISTRY
from pipeline.publishers.base import Limits, Publisher
from pipeline.runner import Runner
from tests.conftest import Project


class ExplodingClient(Publisher):
    """Stands in for a network whose client library raises something unmapped."""

    network = "exploding"
    limits: ClassVar[Limits] = Limits(caption_max=10_000)
    find_calls: ClassVar[int] = 0

    def publish(self, post: Post) -> Receipt:
        raise KeyError("Authorization: Bearer CANARY-TOKEN-42")

    def find(self, post: Post) -> Receipt | None:
        type(self).find_calls += 1
        return None


def _pass_with_boom_target(
    project: Project, monkeypatch: pytest.MonkeyPatch, cls: type[Publisher]
) -> tuple[Ledger, dict[tuple[str, str], str]]:
    """Two items, an outbox target and a `boom` target of `cls`; one real pass."""
    monkeypatch.setitem(REGISTRY, cls.network, f"{__name__}:{cls.__name__}")
    project.write_config(
        project.config.read_text() + f'\n[targets.boom]\nnetwork = "{cls.network}"\n'
    )
    project.add_item("a.toml", 'quote = "Q"\nauthor = "A"\n')
    project.add_item("b.toml", 'quote = "R"\nauthor = "B"\n')
    settings = load_settings(project.config)
    ledger = Ledger.open(settings.data_path)
    report = Runner(settings, ledger).run()
    return ledger, {(o.slug, o.target): o.result for o in report.outcomes}


def test_unexpected_exception_is_unknown_and_the_pass_goes_on(
    bare_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, results = _pass_with_boom_target(bare_project, monkeypatch, ExplodingClient)
    assert results == {
        ("a", "outbox"): "posted",
        ("a", "boom"): "unknown",
        ("b", "outbox"): "posted",
        ("b", "boom"): "unknown",
    }
    row = ledger.get("a", "boom")
    assert row is not None and row.state == "unknown"
    assert "unexpected KeyError from the exploding client" in (row.last_error or "")
    assert "CANARY" not in (row.last_error or "")
    assert ExplodingClient.find_calls == 2  # looked for each post before giving up


class ExplodingFind(ExplodingClient):
    """A network whose find() breaks too (a malformed listing the client cannot read)."""

    network = "exploding_find"

    def find(self, post: Post) -> Receipt | None:
        raise ValueError("Authorization: Bearer CANARY-TOKEN-42")


def test_unexpected_exception_from_find_is_unknown_and_the_pass_goes_on(
    bare_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """find() failing unexpectedly proves nothing: the post is `unknown`, never a crash."""
    ledger, results = _pass_with_boom_target(bare_project, monkeypatch, ExplodingFind)
    assert results == {
        ("a", "outbox"): "posted",
        ("a", "boom"): "unknown",
        ("b", "outbox"): "posted",
        ("b", "boom"): "unknown",
    }
    for slug in ("a", "b"):
        row = ledger.get(slug, "boom")
        assert row is not None and row.state == "unknown"
        assert "CANARY" not in (row.last_error or "")
