"""`--json` on check, publish and import: the shapes the README documents."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Project

SLUG = "drucker-culture-strategy"


def _json(project: Project, *args: str) -> tuple[int, Any]:
    r = project.cli(*args)
    return r.exit_code, json.loads(r.stdout)


def test_check_json_lists_items_with_targets_and_problems_with_file_and_field(
    project: Project,
) -> None:
    code, data = _json(project, "check", "--json")
    assert code == 0 and data["ok"] is True and data["problems"] == []
    assert data["valid_items"] == 3
    assert {"item": SLUG, "targets": ["outbox", "outbox_story"]} in data["items"]

    bad = project.add_item("typo.toml", 'quote = "Fine."\nauthor = "A"\ncolour = "red"\n')
    code, data = _json(project, "check", "--json")
    assert code == 1 and data["ok"] is False
    (problem,) = data["problems"]
    assert problem["file"] == str(bad) and problem["field"] == "colour"
    assert problem["line"] == 3 and problem["message"]


def test_publish_json_reports_every_outcome_then_nothing_new(project: Project) -> None:
    code, data = _json(project, "publish", "--now", SLUG, "--json")
    assert code == 0 and data["ok"] is True and data["dry_run"] is False
    assert data["posted"] == 2
    by_target = {o["target"]: o for o in data["outcomes"]}
    assert set(by_target) == {"outbox", "outbox_story"}
    assert by_target["outbox"]["result"] == "posted" and by_target["outbox"]["item"] == SLUG
    assert by_target["outbox"]["url"].startswith("file://")
    assert by_target["outbox"]["error"] is None

    code, data = _json(project, "publish", "--now", SLUG, "--json")
    assert code == 0 and data["posted"] == 0 and data["outcomes"] == []
    assert data["already_posted"] >= 1


def test_import_json_names_created_existing_and_refused_rows(project: Project) -> None:
    csv = project.root / "quotes.csv"
    csv.write_text(
        "quote,author,link\n"
        "Less is more.,Ludwig Mies van der Rohe,https://example.com/mies\n"
        "Bad link.,Someone,ftp://example.com/x\n",
        encoding="utf-8",
    )
    code, data = _json(project, "import", str(csv), "--json")
    assert code == 1 and data["ok"] is False and data["file"] == str(csv)
    assert len(data["created"]) == 1 and data["created"][0].endswith(".toml")
    (refused,) = data["refused"]
    assert refused["row"] == 3 and "http" in refused["message"]

    code, data = _json(project, "import", str(csv), "--json")
    assert data["created"] == [] and data["existing"][0]["row"] == 2
