"""Issue 17, case 6: text from networks, files and people is printed literally by every
Rich output (publish, status, history, check, plan), never read as markup."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Project
from tests.fakes import Fault
from tests.fakes.mastodon_api import FakeMastodon

TOKEN = "fake-mastodon-token-for-markup"
# Mastodon answers an unprocessable status with 422 and {"error": "..."} quoting the
# problem (https://docs.joinmastodon.org/methods/statuses/#create, "422: Unprocessable
# entity"); a server's text may hold anything, here Rich's markup syntax and an emoji code
SERVER_TEXT = "Validation failed: [/b] text [bold red]x[/bold red] :thumbs_up: \\"


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon(token=TOKEN) as fake:
        yield fake


def test_markup_from_a_server_and_a_file_prints_literally(
    bare_project: Project, mastodon: FakeMastodon
) -> None:
    bare_project.write_config(
        f"""
data_dir = "var"
queue_dir = "queue"

[targets.masto]
network = "mastodon"
format = "square"
options = {{ api_base = "{mastodon.url}", request_timeout = 5, media_poll_interval = 0.01 }}
"""
    )
    bare_project.add_item("ok.toml", 'quote = "Stay [/i] curious."\nauthor = "Ada [b]"\n')
    # a file whose problem message quotes markup-like text (an unknown field's name)
    bare_project.add_item("typo.toml", 'quote = "Q"\nauthor = "A"\n"[/b]" = 1\n')
    mastodon.inject("POST /api/v1/statuses", Fault.error(422, {"error": SERVER_TEXT}))
    env = {"QUOTECAST_MASTO_ACCESS_TOKEN": TOKEN, "COLUMNS": "400"}  # wide: no folded cells

    r = bare_project.run("publish", "--now", "--all", "--yes", env=env)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1, r.stdout + r.stderr  # the post failed, permanently
    assert SERVER_TEXT in r.stdout, r.stdout
    assert "typo.toml" in r.stdout and "[/b]" in r.stdout

    for args in (("status",), ("history",), ("plan",), ("check",)):
        r = bare_project.run(*args, env=env)
        assert "Traceback" not in r.stderr, (args, r.stderr)
        if args in (("status",), ("history",)):
            assert SERVER_TEXT in r.stdout, (args, r.stdout)  # every character as sent
        assert "[/b]" in r.stdout, (args, r.stdout)  # the problem in typo.toml, as written
