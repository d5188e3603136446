"""Two `publish --now` processes at once on one queue: every post goes out exactly once."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import Project


def test_two_processes_publish_every_item_exactly_once(bare_project: Project) -> None:
    bare_project.write_config(
        bare_project.config.read_text()
        + '\n[targets.second]\nnetwork = "outbox"\nformat = "landscape"\n'
    )
    for n in range(12):
        bare_project.add_item(f"q{n:02d}.toml", f'quote = "Quote number {n}"\nauthor = "A{n}"\n')
    procs = [bare_project.popen("publish", "--now", "--all", "--yes") for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out + err
    # each process posted some; together exactly all 24, none twice
    published = []
    for out, _ in outputs:
        published += [line for line in out.splitlines() if line.startswith("posted")]
    assert len(published) == 24
    assert len(set(published)) == 24
    files = sorted((bare_project.var / "outbox").rglob("*.json"))
    assert len(files) == 24
    for f in files:
        assert json.loads(f.read_text())["item"] == f.stem
    db = sqlite3.connect(bare_project.var / "ledger.sqlite3")
    states = db.execute("SELECT state, count(*) FROM posts GROUP BY state").fetchall()
    assert states == [("posted", 24)]
    outcomes = db.execute(
        "SELECT slug, target, count(*) FROM attempts WHERE outcome='posted' GROUP BY slug, target"
    ).fetchall()
    assert len(outcomes) == 24 and {c for _, _, c in outcomes} == {1}
    owners = {
        r[0].rsplit(":", 1)[0]
        for r in db.execute("SELECT owner FROM attempts WHERE outcome='posted'")
    }
    assert len(owners) >= 1


def test_claims_split_the_work_between_processes(bare_project: Project) -> None:
    """With enough items, both processes get work: claims interleave, none collide."""
    for n in range(40):
        bare_project.add_item(f"q{n:02d}.toml", f'quote = "Quote number {n}"\nauthor = "A{n}"\n')
    procs = [bare_project.popen("publish", "--now", "--all", "--yes") for _ in range(2)]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    counts = [sum(line.startswith("posted") for line in out.splitlines()) for out in outs]
    assert sum(counts) == 40
    skipped = sum("claimed by another process" in out for out in outs)
    # either both worked, or one saw the other's claims; never a double post
    assert min(counts) > 0 or skipped > 0
