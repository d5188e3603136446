"""Target options are checked against each network's model; token expiry is recorded and
warned about — through the real CLI, the daemon's rescan and the network fakes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.checks import option_problems
from pipeline.config import load_settings
from pipeline.daemon import Daemon
from pipeline.ledger import Ledger
from tests.alerts.test_alerts import Endpoint
from tests.conftest import ROOT, Project
from tests.fakes.graph_api import PAGE_ID, VERSION, FakeGraph
from tests.fakes.linkedin_api import PERSON, FakeLinkedIn

DAY = 86400


def test_check_names_a_misspelt_option_with_file_line_and_valid_keys(
    bare_project: Project,
) -> None:
    bare_project.write_config(
        'data_dir = "var"\nqueue_dir = "queue"\n\n'
        '[targets.outbox]\nnetwork = "outbox"\nformat = "square"\n'
        '[targets.outbox.options]\nfoldr = "elsewhere"\n'
    )

    result = bare_project.cli("check")

    assert result.exit_code == 1
    line = f"{bare_project.config}:8: targets.outbox.options.foldr: unknown option; valid options:"
    assert line in result.output
    assert "folder" in result.output.split(line, 1)[1].splitlines()[0]


def test_inline_options_table_is_located_too(bare_project: Project) -> None:
    bare_project.write_config(
        'data_dir = "var"\n[targets.m]\nnetwork = "mastodon"\nformat = "square"\n'
        'options = { api_base = "https://example.social", vissibility = "public" }\n'
    )

    result = bare_project.cli("check")

    assert result.exit_code == 1
    assert f"{bare_project.config}:5: targets.m.options.vissibility: unknown option" in (
        result.output
    )


def test_dotted_keys_and_quoted_target_names_are_located_too(bare_project: Project) -> None:
    bare_project.write_config(
        'data_dir = "var"\n'
        '[targets.o]\nnetwork = "outbox"\nformat = "square"\noptions.foldr = "x"\n'
        '[targets."p b"]\nnetwork = "outbox"\nformat = "square"\n'
        '[targets."p b".options]\nfoldr = "y"\n'
    )

    result = bare_project.cli("check")

    assert result.exit_code == 1
    assert f"{bare_project.config}:5: targets.o.options.foldr: unknown option" in result.output
    assert f"{bare_project.config}:10: targets.p b.options.foldr: unknown option" in (
        result.output
    ), result.output


def test_every_option_in_use_today_stays_valid() -> None:
    """The shipped example (api_base, user_id, kind, page_id, author, handle, url…) and the
    options the runner adds (request_timeout) pass."""
    settings = load_settings(ROOT / "config.example.toml")
    assert option_problems(settings) == []
    for conf in settings.targets.values():
        conf.options["request_timeout"] = 5.0
    assert option_problems(settings) == []


def test_publish_refuses_a_misspelt_option_instead_of_ignoring_it(bare_project: Project) -> None:
    bare_project.write_config(
        'data_dir = "var"\n[targets.outbox]\nnetwork = "outbox"\nformat = "square"\n'
        '[targets.outbox.options]\nfoldr = "elsewhere"\n'
    )
    bare_project.add_item("a.toml", 'quote = "Small steps."\nauthor = "Ada"\n')

    result = bare_project.cli("publish", "--now", "--all", "--yes")

    assert "options.foldr: unknown option" in " ".join(result.output.split())
    assert not (bare_project.var / "elsewhere").exists()
    assert not (bare_project.var / "outbox" / "outbox" / "a.json").exists()


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(token="fb-page-token") as fake:
        yield fake


def _token_project(root: Path, graph: FakeGraph, li: FakeLinkedIn, notify: str = "") -> Project:
    project = Project(root)
    (root / "queue").mkdir(parents=True)
    project.write_config(
        'data_dir = "var"\nqueue_dir = "queue"\n'
        + (f'notify = ["{notify}"]\n' if notify else "")
        + f'[targets.fb]\nnetwork = "facebook"\n[targets.fb.options]\n'
        f'api_base = "{graph.url}/{VERSION}"\npage_id = "{PAGE_ID}"\n'
        f'[targets.li]\nnetwork = "linkedin"\nformat = "landscape"\n[targets.li.options]\n'
        f'api_base = "{li.url}"\noauth_base = "{li.url}"\nauthor = "{PERSON}"\n'
    )
    (root / ".env").write_text(
        f"QUOTECAST_FB_ACCESS_TOKEN={graph.token}\nQUOTECAST_LI_ACCESS_TOKEN={li.token}\n"
        f"QUOTECAST_LI_CLIENT_ID={li.client_id}\nQUOTECAST_LI_CLIENT_SECRET={li.client_secret}\n"
    )
    return project


def test_check_online_records_each_expiry_and_status_warns_14_days_ahead(
    tmp_path: Path, graph: FakeGraph
) -> None:
    with FakeLinkedIn(token="li-member-token") as li:
        li.token_expires_at = int(time.time()) + 10 * DAY  # inside the 14-day warning
        graph.token_expires_at = int(time.time()) + 50 * DAY
        project = _token_project(tmp_path / "p", graph, li)

        checked = project.cli("check", "--online")

        assert checked.exit_code == 0, checked.output
        assert len(li.requests_to("POST /oauth/v2/introspectToken")) == 1
        assert len(graph.requests_to("GET /:version/debug_token")) == 1
    out = " ".join(checked.output.split())
    assert "token fb: expires" in out and "token li: expires" in out
    assert "warning: the linkedin token of target li expires on" in out
    assert "target fb" not in out.split("warning:", 1)[1]

    status = json.loads(project.cli("status", "--json").output)
    tokens = {t["target"]: t for t in status["tokens"]}
    assert tokens["li"]["warning"] and "in 9 days" in tokens["li"]["warning"]
    assert tokens["fb"]["warning"] is None and tokens["fb"]["expires_at"]
    shown = " ".join(project.cli("status").output.split())
    assert "token: the linkedin token of target li expires on" in shown


def test_check_online_names_a_refused_token(tmp_path: Path, graph: FakeGraph) -> None:
    with FakeLinkedIn(token="li-member-token") as li:
        graph.token_expired = True
        project = _token_project(tmp_path / "p", graph, li)

        result = project.cli("check", "--online")

    assert result.exit_code == 1
    assert "targets.fb: token: auth:" in result.output
    assert "QUOTECAST_FB_ACCESS_TOKEN" in result.output


def test_daemon_records_expiry_daily_and_alerts_once(tmp_path: Path, graph: FakeGraph) -> None:
    endpoint = Endpoint()
    try:
        with FakeLinkedIn(token="li-member-token") as li:
            graph.token_expires_at = int(time.time()) + 5 * DAY
            project = _token_project(tmp_path / "p", graph, li, notify=endpoint.url)
            settings = load_settings(project.config, env_file=project.root / ".env")
            ledger = Ledger.open(settings.data_path)
            try:
                Daemon(settings, ledger).rescan("start")
                Daemon(settings, ledger).rescan("start")  # a restart within the day
                rows = {r.target: r for r in ledger.tokens()}
            finally:
                ledger.close()
            asked = len(graph.requests_to("GET /:version/debug_token"))
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()

    assert asked == 1, "asked once a day, not once per rescan or restart"
    fb = rows["fb"].expires_at
    assert fb is not None and abs(fb.timestamp() - graph.token_expires_at) < 1
    tokens = [r for r in endpoint.received if "token" in r["title"]]
    assert [r["title"] for r in tokens] == ["quotecast: access token of fb expires soon"]
    assert "in 4 days" in tokens[0]["message"] and tokens[0]["type"] == "warning"
    assert rows["li"].expires_at is not None and rows["li"].expires_at - rows[
        "li"
    ].checked_at > timedelta(days=14)


def test_check_warns_of_a_retired_linkedin_version(bare_project: Project) -> None:
    """Through the real CLI: the version check is part of `check`, not only a function."""
    bare_project.write_config(
        'data_dir = "var"\n[targets.li]\nnetwork = "linkedin"\nformat = "square"\n'
        'options = { author = "urn:li:person:abc", linkedin_version = "202511" }\n'
    )

    r = bare_project.run("check")

    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    assert (
        "targets.li.options.linkedin_version: LinkedIn-Version 202511 was retired on 2026-11-16"
        in out
    ), out
