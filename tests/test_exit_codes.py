"""Exit codes, as the README documents them: 0 ok, 1 problems found, 2 usage or
configuration error, 130 interrupted. Through the real command, as scripts meet them."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from tests.conftest import MINIMAL_CONFIG, Project

BAD_ITEM = 'quote = "Fine."\nauthor = "Someone"\ncolour = "red"\n'


def test_0_when_all_is_well(project: Project) -> None:
    assert project.run("check").returncode == 0


def test_1_when_problems_are_found(project: Project) -> None:
    project.add_item("typo.toml", BAD_ITEM)
    r = project.run("check")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "typo.toml" in r.stdout and "colour" in r.stdout


def test_2_for_a_usage_error(project: Project) -> None:
    r = project.run("publish", "--now", "--no-such-option")
    assert r.returncode == 2, r.stderr
    assert "No such option" in r.stderr


def test_2_for_a_configuration_error(bare_project: Project) -> None:
    bare_project.write_config(MINIMAL_CONFIG + "\n[schedule]\ntimezone = 'Mars/Olympus'\n")
    r = bare_project.run("check")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "schedule.timezone" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args", [("check",), ("status",), ("publish", "--now"), ("run",), ("render",), ("plan",)]
)
def test_no_configuration_is_2_says_how_to_make_one_and_creates_nothing(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    r = Project(tmp_path).cli(*args)
    assert r.exit_code == 2, r.output
    assert "no configuration found" in r.output
    assert "quotecast init" in r.output
    assert list(tmp_path.iterdir()) == []  # no var/, no ledger, no queue/


def test_130_when_interrupted(bare_project: Project) -> None:
    """Ctrl-C while a post is on its way: no traceback, status 130."""
    with socket.socket() as listener:
        # a webhook endpoint that accepts the connection and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        bare_project.write_config(
            MINIMAL_CONFIG.replace("[targets.outbox]", "[targets.hook]")
            .replace('network = "outbox"', 'network = "webhook"')
            .replace('format = "square"', 'format = "square"\n[targets.hook.options]\n')
            + f'url = "http://127.0.0.1:{port}/hook"\nrequest_timeout = 120\n'
        )
        bare_project.add_item(
            "waiting.toml",
            'quote = "Patience."\nauthor = "Someone"\n',
        )
        proc = bare_project.popen("publish", "--now", "waiting")
        try:
            listener.settimeout(120)
            conn, _ = listener.accept()  # the post is now in flight
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
            conn.close()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err, err
