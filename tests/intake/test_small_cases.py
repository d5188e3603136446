"""Issue 17, case 11: a malformed --posted URL, the ledger the pass report names, and
secret-looking keys in any spelling."""

from __future__ import annotations

import pytest

from pipeline.config import load_settings
from tests.conftest import MINIMAL_CONFIG, Project


def test_resolve_with_a_malformed_url_is_one_line(bare_project: Project) -> None:
    r = bare_project.run("resolve", "some-item", "outbox", "--posted", "http://[::1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error: --posted: not a valid URL"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_the_pass_report_names_the_ledger_in_use(bare_project: Project) -> None:
    bare_project.add_item("a.toml", 'quote = "Q."\nauthor = "A"\n')
    shared = bare_project.root / "shared" / "team-ledger.sqlite3"
    shared.parent.mkdir()
    url = f"sqlite:///{shared}"
    r = bare_project.run("publish", "--now", "--all", "--yes", env={"QUOTECAST_LEDGER_URL": url})
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"ledger: {url}" in r.stdout, r.stdout
    assert "var/ledger.sqlite3" not in r.stdout
    assert shared.is_file()


def test_a_database_ledger_is_named_without_its_password(
    bare_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "QUOTECAST_LEDGER_URL", "postgresql+psycopg://team:s3cret-pw@db.internal:5432/quotecast"
    )
    from pipeline.report import ledger_name

    name = ledger_name(load_settings(bare_project.config))
    assert name == "postgresql+psycopg://team:***@db.internal:5432/quotecast"


@pytest.mark.parametrize(
    ("options", "key", "variable"),
    [
        ('accessToken = "abc123456"', "accessToken", "QUOTECAST_HOOK_ACCESS_TOKEN"),
        ('apiKey = "abc123456"', "apiKey", "QUOTECAST_HOOK_API_KEY"),
        ('"X-Api-Key" = "abc123456"', "X-Api-Key", "QUOTECAST_HOOK_X_API_KEY"),
        ('clientSecret = "abc123456"', "clientSecret", "QUOTECAST_HOOK_CLIENT_SECRET"),
        (
            'headers = {Authorization = "Bearer abc123456789"}',
            "Authorization",
            "QUOTECAST_HOOK_URL",
        ),
        ('headers = {"X-Custom" = "Bearer abc123456789"}', "X-Custom", "QUOTECAST_HOOK_URL"),
    ],
)
def test_secret_looking_keys_are_refused_in_any_spelling(
    bare_project: Project, options: str, key: str, variable: str
) -> None:
    bare_project.write_config(
        MINIMAL_CONFIG
        + f"""
[targets.hook]
network = "webhook"

[targets.hook.options]
url = "https://example.com/hook"
{options}
"""
    )
    r = bare_project.run("check")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    line = r.stderr.strip()
    assert len(line.splitlines()) == 1, line
    assert "config.toml:" in line and "targets.hook.options." in line and f"{key}:" in line
    assert "secrets are not read from the config file" in line and variable in line, line
    assert "abc123456" not in line  # the secret itself is never repeated
