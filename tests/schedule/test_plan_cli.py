"""`quotecast plan`: the calendar as a person and a machine read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import Project
from tests.daemon.helpers import config_text, write_item


def test_plan_json_and_text(bare_project: Project) -> None:
    bare_project.write_config(
        config_text("Europe/London", ("daily 07:30",), misfire_grace=60, runway_alert_slots=5)
    )
    queue = bare_project.queue
    soon = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    write_item(queue, "a-first", priority=2)
    write_item(queue, "b-second")
    write_item(queue, "clash-1", publish_at=soon)
    write_item(queue, "clash-2", publish_at=soon)
    write_item(queue, "gone", publish_at=datetime.now(UTC) - timedelta(days=1))
    (queue / "broken.toml").write_text('quote = "no author"\n')

    r = bare_project.cli("plan", "--json", "--days", "3")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["timezone"] == "Europe/London"
    items = [e["item"] for e in data["calendar"] if e["item"] and e["kind"] == "slot"]
    assert items[:2] == ["a-first", "b-second"]
    fixed = [e for e in data["calendar"] if e["kind"] == "publish_at"]
    assert [e["item"] for e in fixed] == ["clash-1", "clash-2"]
    assert fixed[0]["at_utc"] == soon.isoformat() and fixed[0]["targets"] == ["outbox"]
    assert [m["item"] for m in data["missed"]] == ["gone"]
    assert [c["items"] for c in data["conflicts"]] == [["clash-1", "clash-2"]]
    assert data["runway"][0]["items"] == 2 and data["runway"][0]["slots"] == 5
    assert any("broken.toml" in p and "author" in p for p in data["problems"])

    r = bare_project.cli("plan", "--days", "3")
    assert r.exit_code == 0, r.output
    for text in ("a-first", "(publish_at)", "(free slot)", "missed:", "conflict:", "runs dry:"):
        assert text in r.output
