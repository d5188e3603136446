"""The forms of `publish` through the real CLI: due now, named items, everything, dry runs.

The clock is fixed with time-machine so "due" is exact: Thursday 2026-12-03 07:31 in
London (GMT, so UTC too), one slot `mon-fri 07:30`, misfire_grace 15 minutes.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from pipeline.config import load_settings
from pipeline.daemon import Daemon
from pipeline.ledger import Ledger
from pipeline.targeting import NO_TARGETS
from tests.conftest import Project
from tests.daemon.helpers import config_text, outbox_posts, write_item

NOW = datetime(2026, 12, 3, 7, 31, tzinfo=UTC)  # Thu 07:31 GMT
TWO_TARGETS = (
    '[targets.outbox]\nnetwork = "outbox"\nformat = "square"\n\n'
    '[targets.story]\nnetwork = "outbox"\nformat = "story"\nslots = []\n'
)


def lines(output: str, verb: str) -> set[tuple[str, str]]:
    """(item, target) of every `posted a → t` / `would post a → t` line."""
    pattern = re.compile(rf"^{verb}\s+(\S+) → (\S+)", re.MULTILINE)
    return set(pattern.findall(output))


def make(
    root: Path, slots: tuple[str, ...] = ("mon-fri 07:30",), targets: str | None = None
) -> Project:
    (root / "queue").mkdir(parents=True)
    p = Project(root)
    p.write_config(config_text("Europe/London", slots, targets=targets, misfire_grace=900))
    return p


def calendar(p: Project) -> None:
    """a and b wait for slots (a first), c is next week, d was due 6 minutes ago, e is
    2.5 hours late (missed: never posted late by the schedule)."""
    write_item(p.queue, "a", priority=2)
    write_item(p.queue, "b", priority=1)
    write_item(p.queue, "c", publish_at=datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    write_item(p.queue, "d", publish_at=datetime(2026, 12, 3, 7, 25, tzinfo=UTC))
    write_item(p.queue, "e", publish_at=datetime(2026, 12, 3, 5, 0, tzinfo=UTC))


@pytest.fixture
def cal(tmp_path: Path) -> Iterator[Project]:
    p = make(tmp_path / "proj")
    calendar(p)
    with time_machine.travel(NOW, tick=False):
        yield p


def test_now_posts_only_what_is_due_and_then_names_the_next_slot(cal: Project) -> None:
    dry = cal.cli("publish", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert lines(dry.output, "would post") == {("a", "outbox"), ("d", "outbox")}
    assert "would publish 2 posts (2 to outbox)" in dry.output
    assert "missed: e → outbox: publish_at Thu 2026-12-03 05:00 GMT" in dry.output
    assert "`quotecast publish --now e` posts it" in dry.output
    assert not (cal.var / "ledger.sqlite3").exists() and outbox_posts(cal.root) == []

    r = cal.cli("publish", "--now")
    assert r.exit_code == 0, r.output
    assert lines(r.output, "posted") == lines(dry.output, "would post")
    assert "published 2 posts (2 to outbox)" in r.output
    assert outbox_posts(cal.root) == ["a", "d"]

    # the slot is used up: b does not slide into it; it waits for Friday's
    expected = "nothing is due now; next: b → outbox at Fri 2026-12-04 07:30 GMT (slot)"
    for args in (("publish", "--now"), ("publish", "--dry-run")):
        again = cal.cli(*args)
        assert again.exit_code == 0, again.output
        assert expected in again.output, again.output
        assert lines(again.output, "posted") == lines(again.output, "would post") == set()
    assert outbox_posts(cal.root) == ["a", "d"]


def test_now_json_names_the_form_the_missed_and_the_next_slot(cal: Project) -> None:
    first = json.loads(cal.cli("publish", "--now", "--json").output)
    assert first["form"] == "due" and first["posted"] == 2
    assert any(n.startswith("missed: e → outbox") for n in first["notes"])
    again = cal.cli("publish", "--now", "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert data["posted"] == 0 and data["outcomes"] == []
    assert data["next"] == {
        "item": "b",
        "targets": ["outbox"],
        "at": "2026-12-04T07:30:00+00:00",
        "kind": "slot",
    }
    assert data["message"].startswith("nothing is due now; next: b → outbox")


def test_now_posts_exactly_what_a_daemon_pass_posts(cal: Project, tmp_path: Path) -> None:
    twin = Project(tmp_path / "twin")
    shutil.copytree(cal.root, twin.root)
    settings = load_settings(twin.config, env_file=twin.root / ".env")
    daemon = Daemon(settings, Ledger.open(settings.data_path))
    try:
        report = daemon.run_pass()
    finally:
        daemon.ledger.close()
    assert report is not None
    r = cal.cli("publish", "--now")
    assert r.exit_code == 0, r.output
    assert outbox_posts(cal.root) == outbox_posts(twin.root) == ["a", "d"]
    assert lines(r.output, "posted") == {(o.slug, o.target) for o in report.posted}
    # both reserved a's slot, so both plans move b to Friday
    for root in (cal.root, twin.root):
        row = Ledger.open(root / "var").get("a", "outbox")
        assert row is not None and row.scheduled_for == datetime(2026, 12, 3, 7, 30, tzinfo=UTC)


def test_named_items_go_now_whatever_their_schedule(cal: Project) -> None:
    dry = cal.cli("publish", "--dry-run", "c", "b")
    assert lines(dry.output, "would post") == {("c", "outbox"), ("b", "outbox")}
    r = cal.cli("publish", "--now", "c")  # scheduled for next week: the urgent case
    assert r.exit_code == 0, r.output
    assert lines(r.output, "posted") == {("c", "outbox")}
    assert outbox_posts(cal.root) == ["c"]
    again = cal.cli("publish", "--now", "c")
    assert "nothing new to publish; 1 already posted earlier" in again.output
    assert (
        "nothing new to publish; 1 already posted earlier"
        in cal.cli("publish", "--dry-run", "c").output
    )


def test_unknown_slug_and_slugs_with_all_are_usage_errors(cal: Project) -> None:
    r = cal.run("publish", "--now", "a", "no-such-item")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: no queue item named 'no-such-item' in {cal.queue}; "
        "`quotecast status` lists the items"
    ]
    r = cal.run("publish", "--now", "--all", "a")
    assert r.returncode == 2 and "give SLUGs or --all, not both" in r.stderr
    assert outbox_posts(cal.root) == []


def test_all_refuses_without_a_terminal_unless_yes(cal: Project) -> None:
    r = cal.cli("publish", "--now", "--all")
    assert r.exit_code == 2, r.output
    assert (
        "--all would publish 5 posts (5 to outbox) now, ahead of the schedule's slots; "
        "add --yes to confirm" in r.output
    )
    assert outbox_posts(cal.root) == [] and "posted" not in r.output
    dry = cal.cli("publish", "--dry-run", "--all")
    assert lines(dry.output, "would post") == {(s, "outbox") for s in "abcde"}
    r = cal.cli("publish", "--now", "--all", "--yes")
    assert r.exit_code == 0, r.output
    assert lines(r.output, "posted") == lines(dry.output, "would post")
    assert outbox_posts(cal.root) == ["a", "b", "c", "d", "e"]
    for args in (("publish", "--now", "--all", "--yes"), ("publish", "--dry-run", "--all")):
        assert "nothing new to publish; 5 already posted earlier" in cal.cli(*args).output
    # and the due form, with everything posted, says it the same way
    assert "nothing new to publish; 5 already posted earlier" in cal.cli("publish", "--now").output


def test_all_without_slots_asks_only_for_more_than_ten(tmp_path: Path) -> None:
    p = make(tmp_path / "proj", slots=())
    for n in range(3):
        write_item(p.queue, f"q{n}")
    nothing = p.cli("publish", "--now")
    assert "nothing is due now, and nothing is planned in the next 7 days" in nothing.output
    assert "3 item(s) (q0, q1, q2) have no publish_at and outbox has no slots" in nothing.output
    r = p.cli("publish", "--now", "--all")  # no slots, 3 posts: no question
    assert r.exit_code == 0 and "published 3 posts (3 to outbox)" in r.output, r.output
    for n in range(3, 14):
        write_item(p.queue, f"q{n}")
    r = p.cli("publish", "--now", "--all")
    assert r.exit_code == 2 and "11 posts (11 to outbox) now, more than 10 at once" in r.output
    assert len(outbox_posts(p.root)) == 3


def test_target_filter_applies_to_every_form(tmp_path: Path) -> None:
    p = make(tmp_path / "proj", targets=TWO_TARGETS)
    calendar(p)
    with time_machine.travel(NOW, tick=False):
        # story has no slots: only d (publish_at) is due there; a's slot is outbox's
        due = p.cli("publish", "--dry-run")
        assert lines(due.output, "would post") == {("a", "outbox"), ("d", "outbox"), ("d", "story")}
        story = p.cli("publish", "--dry-run", "-t", "story")
        assert lines(story.output, "would post") == {("d", "story")}
        r = p.cli("publish", "--now", "--all", "-t", "story")  # story has no slots: no question
        assert r.exit_code == 0, r.output
        assert lines(r.output, "posted") == {(s, "story") for s in "abcde"}
        assert outbox_posts(p.root) == [] and outbox_posts(p.root, "story") == list("abcde")


def test_targets_empty_means_nowhere_to_check_plan_and_publish(tmp_path: Path) -> None:
    p = make(tmp_path / "proj")
    p.add_item("held.toml", 'quote = "Not yet."\nauthor = "Tester"\ntargets = []\n')
    write_item(p.queue, "open")
    with time_machine.travel(NOW, tick=False):
        check = p.cli("check")
        assert check.exit_code == 0, check.output
        assert f"ok  held  → (no targets: {NO_TARGETS})" in check.output
        assert "ok  open  → outbox" in check.output
        plan = json.loads(p.cli("plan", "--json").output)
        assert {"item": "held", "target": "(none)", "reason": NO_TARGETS} in plan["waiting"]
        assert all(e["item"] != "held" for e in plan["calendar"])
        named = p.cli("publish", "--now", "held")
        assert named.exit_code == 0, named.output
        assert f"not posted: held: {NO_TARGETS}" in named.output
        assert "nothing new to publish" in named.output
        everything = p.cli("publish", "--now", "--all", "--yes")
        assert lines(everything.output, "posted") == {("open", "outbox")}
        status = json.loads(p.cli("status", "--json").output)
        assert [e["item"] for e in status["posts"]] == ["open"]


def on_terminal(
    p: Project, args: list[str], answer: bytes, stdout: Path | None = None
) -> tuple[int, str]:
    """Run the real `quotecast` with a pseudo-terminal as stdin/stdout/stderr (stdout to a
    file when given, as `> out.json` would); answer its question."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
    env["NO_COLOR"] = "1"
    master, slave = pty.openpty()
    sink = stdout.open("wb") if stdout is not None else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args],
        cwd=p.root,
        env=env,
        stdin=slave,
        stdout=sink if sink is not None else slave,
        stderr=slave,
    )
    os.close(slave)
    if sink is not None:
        sink.close()
    out, asked = b"", False
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                pytest.fail(f"no answer from quotecast within 60 s: {out!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if not asked and b"[y/N]" in out:
                os.write(master, answer + b"\n")
                asked = True
        text = out.decode("utf-8", "replace").replace("\r\n", "\n")
        return proc.wait(30), re.sub(r"\x1b\[[0-9;]*m", "", text)  # terminal styles
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_all_on_a_terminal_shows_the_posts_and_asks(tmp_path: Path) -> None:
    p = make(tmp_path / "proj", targets=TWO_TARGETS)
    write_item(p.queue, "a")
    write_item(p.queue, "b")
    question = (
        "--all would publish 4 posts (2 to outbox, 2 to story) now, ahead of the schedule's "
        "slots. Publish them? [y/N]:"
    )
    code, out = on_terminal(p, ["publish", "--now", "--all"], b"n")
    assert code == 1 and question in out and "nothing published" in out, out
    assert outbox_posts(p.root) == [] and outbox_posts(p.root, "story") == []
    code, out = on_terminal(p, ["publish", "--now", "--all"], b"y")
    assert code == 0 and question in out, out
    assert "published 4 posts (2 to outbox, 2 to story)" in out
    assert outbox_posts(p.root) == outbox_posts(p.root, "story") == ["a", "b"]


def test_the_one_item_publish_a_studio_calls_is_the_named_form(
    cal: Project, tmp_path: Path
) -> None:
    from pipeline.publishing import publish_item

    twin = Project(tmp_path / "twin")
    shutil.copytree(cal.root, twin.root)
    settings = load_settings(twin.config, env_file=twin.root / ".env")
    selection, report = publish_item(settings, "c")
    r = cal.cli("publish", "--now", "c")
    assert r.exit_code == 0, r.output
    assert {(o.slug, o.target) for o in report.posted} == lines(r.output, "posted")
    assert outbox_posts(twin.root) == outbox_posts(cal.root) == ["c"]
    assert selection.form == "named" and report.ok


def test_a_named_item_that_is_due_keeps_its_slot(cal: Project) -> None:
    r = cal.cli("publish", "--now", "a")  # a is due in today's 07:30 slot anyway
    assert lines(r.output, "posted") == {("a", "outbox")}
    # a used the slot: b does not go out in it too, it waits for Friday
    due = cal.cli("publish", "--dry-run")
    assert lines(due.output, "would post") == {("d", "outbox")}
    row = Ledger.open(cal.var).get("a", "outbox")
    assert row is not None and row.scheduled_for == datetime(2026, 12, 3, 7, 30, tzinfo=UTC)


def test_all_asks_on_the_terminal_when_stdout_is_redirected(tmp_path: Path) -> None:
    p = make(tmp_path / "proj", targets=TWO_TARGETS)
    write_item(p.queue, "a")
    out_file = tmp_path / "out.json"
    args = ["publish", "--now", "--all", "--json"]
    code, seen = on_terminal(p, args, b"n", stdout=out_file)
    assert code == 1 and "Publish them? [y/N]" in seen and "nothing published" in seen, seen
    assert out_file.read_text() == ""  # the question never lands in the redirected output
    code, seen = on_terminal(p, args, b"y", stdout=out_file)
    assert code == 0, seen
    assert json.loads(out_file.read_text())["posted"] == 2
