"""Scale benchmark: `python benchmarks/scale.py [--sizes 100,1000,10000]`.

For each size N it makes a throw-away project with N queue items, all of them
posted to two outbox targets (ledger rows and attempts written in one bulk
transaction, so setting up 10,000 takes seconds), then runs the real
`quotecast` command in a subprocess for each figure and records wall time and
the child's peak RSS (from wait4, so it is that process's own):

* check, plan, status (twice: the first parses every queue file, the next reads the
  parse cache it left), status on an empty project and --help (medians of 5), history
  (default and --limit 0)
* bio cold (first build) and bio warm (a rebuild with nothing new)
* publish 1: one new item added to N posted, `publish --now new-one` end to end, and the
  time until that command printed its pass report (the bio site may follow)
* daemon idle: CPU seconds of `quotecast run` over a window with nothing due
  (default 60 s, `--idle-seconds`), as % of one core; the issue's target is over
  10 minutes, and the ratio over a shorter window is what is printed
* throughput (once, on a separate project): `publish --now --all --yes` of M new items
  rendering every card, then again with every card already in the card cache, until
  the pass report and until exit

Each command's figure is its wall time and, in the "(cpu)" row, the user + system
CPU seconds of that process (from wait4): on a shared machine the wall time
moves with the load, the CPU time much less. It prints one table with a fitted
growth exponent per row (least squares of
log time on log N). `--code DIR` runs another checkout's code (e.g. main's) with
the same interpreter, for before/after figures from one machine.

Seeded posts carry real card files (hard links to one rendered square and one story card,
under distinct names) up to `--cards-upto` items (default 1,000); above that they
have none, because making 30,000 WebP thumbnails for the cold build takes far
longer than everything else together. The table says which sizes had cards.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("outbox", "outbox_story")


@dataclass
class Run:
    seconds: float  # wall
    cpu: float  # user + system seconds of the child: what it cost, whatever the load
    rss_mb: float
    output: str
    code: int


def child_env(code: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
    env["PYTHONPATH"] = str(code)
    env["COLUMNS"] = "80"
    return env


def run(code: Path, cwd: Path, *args: str, timeout: float = 3600) -> Run:
    """One real `quotecast` command: wall time and that child's own peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args],
        cwd=cwd,
        env=child_env(code),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    text = out.decode("utf-8", "replace")
    return Run(seconds, cpu, usage.ru_maxrss / 1024, text, proc.returncode)


def median_run(code: Path, cwd: Path, *args: str, times: int = 5) -> Run:
    """The run of median wall time out of `times`: for commands of a fraction of a second,
    where one run is mostly the machine's noise."""
    runs = sorted((run(code, cwd, *args) for _ in range(times)), key=lambda r: r.seconds)
    return runs[len(runs) // 2]


# -- project set-up ------------------------------------------------------------------------


def make_project(root: Path, code: Path, n: int) -> Path:
    """Config (the example's, two outbox targets) and n queue items."""
    root.mkdir(parents=True)
    shutil.copy(code / "config.example.toml", root / "config.toml")
    queue = root / "queue"
    queue.mkdir()
    for i in range(n):
        (queue / f"q{i:05d}.toml").write_text(
            f'quote = "Number {i} is a quote long enough to wrap over a few lines of a card."\n'
            f'author = "Author {i % 97}"\nrole = "Role {i % 13}"\n'
            f'link = "https://example.com/articles/{i}"\ntags = ["t{i % 7}", "scale"]\n',
            encoding="utf-8",
        )
    return root


def render_two_cards(code: Path, project: Path) -> dict[str, Path]:
    """One real square and one story card, rendered by the checkout under test."""
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from zoneinfo import ZoneInfo\n"
        "from pipeline.config import load_settings\n"
        "from pipeline.items import parse_item\n"
        "from pipeline.render.cache import render_cached\n"
        "s = load_settings(Path('config.toml'))\n"
        "item = parse_item(Path('queue/q00000.toml'), Path('queue'), ZoneInfo('UTC'), False)\n"
        "out = {}\n"
        "for t in ('outbox', 'outbox_story'):\n"
        "    fn, fmt = s.format_for(t)\n"
        "    _, theme = s.theme_for(item.theme, t)\n"
        "    _, p = render_cached(item, theme, fn, fmt, s.brand, s.base_dir, "
        "Path('seed-cards'))\n"
        "    out[t] = str(p.resolve())\n"
        "print(json.dumps(out))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env=child_env(code),
        capture_output=True,
        text=True,
        check=True,
    )
    return {k: Path(v) for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items()}


def seed_ledger(code: Path, project: Path, n: int, cards: dict[str, Path] | None) -> None:
    """n items posted to both targets (an hour apart, oldest first), one attempt each."""
    card_dir = project / "var" / "cards"
    card_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[tuple[int, str], str | None] = {}
    for i in range(n):
        for t in TARGETS:
            if cards is None:
                paths[i, t] = None
                continue
            src = cards[t]
            dst = card_dir / f"seed{i:05d}{t[-5:]}{src.suffix}"
            os.link(src, dst)
            paths[i, t] = str(dst)
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from sqlalchemy import insert\n"
        "from pipeline.ledger import Ledger, posts, attempts\n"
        "data = json.load(sys.stdin)\n"
        "ledger = Ledger.open(Path('var'))\n"
        "with ledger.engine.begin() as conn:\n"
        "    conn.execute(insert(posts), data['posts'])\n"
        "    conn.execute(insert(attempts), data['attempts'])\n"
        "ledger.close()\n"
    )
    start = datetime(2024, 1, 1, tzinfo=UTC)
    post_rows, attempt_rows = [], []
    for i in range(n):
        at = (start + timedelta(hours=i)).isoformat(timespec="microseconds")
        for t in TARGETS:
            url = f"file:///outbox/{t}/q{i:05d}.json"
            post_rows.append(
                {
                    "slug": f"q{i:05d}",
                    "target": t,
                    "network": "outbox",
                    "state": "posted",
                    "attempts": 1,
                    "owner": "seed",
                    "idempotency_key": f"k{i}{t}",
                    "content_hash": f"h{i}{t}",
                    "remote_id": f"r{i}{t}",
                    "url": url,
                    "card_path": paths[i, t],
                    "caption": f"caption {i}",
                    "alt_text": f"alt {i}",
                    "link": f"https://example.com/articles/{i}",
                    "created_at": at,
                    "updated_at": at,
                    "posted_at": at,
                }
            )
            attempt_rows.append(
                {
                    "slug": f"q{i:05d}",
                    "target": t,
                    "attempt": 1,
                    "owner": "seed",
                    "at": at,
                    "outcome": "posted",
                    "remote_id": f"r{i}{t}",
                    "url": url,
                }
            )
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env=child_env(code),
        input=json.dumps({"posts": post_rows, "attempts": attempt_rows}),
        text=True,
        check=True,
    )


def add_new_item(project: Path) -> None:
    (project / "queue" / "new-one.toml").write_text(
        'quote = "A brand new quote, posted into a project that has posted a lot."\n'
        'author = "Newcomer"\nlink = "https://example.com/new"\n',
        encoding="utf-8",
    )


# -- measurements ----------------------------------------------------------------------------


def publish_until_report(code: Path, project: Path, *what: str) -> tuple[float, float, float, str]:
    """`publish --now WHAT`: seconds until its report line, until it exited, and its CPU."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "publish", "--now", *what],
        cwd=project,
        env=child_env(code),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    reported = math.nan
    lines = []
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace")
        lines.append(line)
        if math.isnan(reported) and ("published" in line or "nothing new" in line):
            reported = time.perf_counter() - start
    _, _, usage = os.wait4(proc.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    return reported, time.perf_counter() - start, cpu, "".join(lines)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def daemon_idle(code: Path, project: Path, window: float) -> float:
    """% of one core that `quotecast run` uses over `window` seconds once started."""
    log = open(project / "daemon.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run"],
        cwd=project,
        env=child_env(code),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # started: its first heartbeat is in the log or db
            text = (project / "daemon.log").read_text(errors="replace")
            if "daemon started" in text and proc.poll() is None:
                break
            time.sleep(0.5)
        time.sleep(5)  # let the first plan finish
        before = cpu_seconds(proc.pid)
        time.sleep(window)
        used = cpu_seconds(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait(timeout=120)
        log.close()
    return 100 * used / window


def throughput(code: Path, base: Path, items: int) -> dict[str, float]:
    """posts/s of `publish --now --all --yes`: rendering every card, then from the card
    cache; counted until the pass report (posts recorded) and until the process exited
    (bio site built too)."""
    project = make_project(base / f"throughput-{items}", code, items)
    posts = items * len(TARGETS)
    out: dict[str, float] = {}
    for name in ("render", "cached"):
        reported, total, cpu, text = publish_until_report(code, project, "--all", "--yes")
        assert f"published {posts} posts" in text, text[-2000:]
        out[name] = posts / reported
        out[f"{name}_exit"] = posts / total
        out[f"{name}_cpu"] = posts / cpu
        # the same posts again, cards cached: a new ledger and outbox (the marker that
        # guards against a lost ledger goes too, as moving var/ aside would)
        for leftover in ("ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"):
            (project / "var" / leftover).unlink(missing_ok=True)
        (project / "var" / ".ledger-made").unlink(missing_ok=True)
        shutil.rmtree(project / "var" / "outbox", ignore_errors=True)
    return out


# -- the table ------------------------------------------------------------------------------


def exponent(sizes: Sequence[int], values: Sequence[float]) -> float | None:
    pts = [
        (math.log(n), math.log(v))
        for n, v in zip(sizes, values, strict=True)
        if v > 0 and not math.isnan(v)
    ]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else None


def fmt(v: float, unit: str) -> str:
    if math.isnan(v):
        return "—"
    if unit == "s":
        return f"{v:.2f} s" if v < 100 else f"{v:.0f} s"
    if unit == "MB":
        if v < 1:
            return f"{v * 1000:.0f} KB"
        return f"{v:.1f} MB" if v < 10 else f"{v:.0f} MB"
    return f"{v:.2f} %"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,10000", help="comma-separated item counts")
    ap.add_argument("--code", type=Path, default=ROOT, help="checkout whose code runs")
    ap.add_argument("--skip", default="", help="comma-separated: check,bio,daemon,throughput")
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    ap.add_argument("--cards-upto", type=int, default=1000)
    ap.add_argument("--check-upto", type=int, default=10000, help="skip check above this size")
    ap.add_argument("--throughput-items", type=int, default=250)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    code: Path = args.code.resolve()
    rows: dict[str, tuple[str, dict[int, float]]] = {}

    def put(name: str, unit: str, n: int, value: float) -> None:
        rows.setdefault(name, (unit, {}))[1][n] = value

    def put_run(name: str, n: int, r: Run) -> None:
        put(name, "s", n, r.seconds)
        put(f"{name} (cpu)", "s", n, r.cpu)

    with tempfile.TemporaryDirectory(prefix="quotecast-scale-") as tmp:
        base = Path(tmp)
        empty = make_project(base / "empty", code, 0)
        empty_run = median_run(code, empty, "status")
        help_run = median_run(code, empty, "--help")
        for n in sizes:
            t0 = time.perf_counter()
            project = make_project(base / f"p{n}", code, n)
            cards = render_two_cards(code, project) if n <= args.cards_upto else None
            seed_ledger(code, project, n, cards)
            print(f"[{n}] set up in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            for name, cmd in (
                ("status, first (parses queue)", ("status",)),
                ("status", ("status",)),
                ("status --json", ("status", "--json")),
                ("history", ("history",)),
                ("history --limit 0", ("history", "--limit", "0")),
                ("plan", ("plan",)),
            ):
                r = run(code, project, *cmd)
                assert r.code == 0, r.output[-2000:]
                put_run(name, n, r)
                if name.startswith("status,") or name in ("status", "history --limit 0"):
                    put(f"{name} peak RSS", "MB", n, r.rss_mb)
                print(f"[{n}] {name}: {r.seconds:.2f} s", file=sys.stderr)
            if "check" not in skip and n <= args.check_upto:
                r = run(code, project, "check")
                put_run("check", n, r)
                print(f"[{n}] check: {r.seconds:.2f} s", file=sys.stderr)
            if "bio" not in skip:
                r = run(code, project, "bio", "--no-deploy")
                assert r.code == 0, r.output[-2000:]
                put_run("bio cold", n, r)
                r = run(code, project, "bio", "--no-deploy")
                put_run("bio warm (nothing new)", n, r)
                index = project / "var" / "site" / "index.html"
                put("index.html size", "MB", n, index.stat().st_size / 1e6)
                add_new_item(project)
                reported, total, cpu, out = publish_until_report(code, project, "new-one")
                assert "published 2 posts" in out, out[-2000:]
                put("publish 1 into N: report", "s", n, reported)
                put("publish 1 into N: exit", "s", n, total)
                put("publish 1 into N: exit (cpu)", "s", n, cpu)
                print(f"[{n}] bio + publish 1: {total:.2f} s", file=sys.stderr)
            if "daemon" not in skip:
                pct = daemon_idle(code, project, args.idle_seconds)
                put(f"daemon idle ({args.idle_seconds:.0f} s window)", "%", n, pct)
                print(f"[{n}] daemon idle: {pct:.2f} %", file=sys.stderr)
            shutil.rmtree(project, ignore_errors=True)
        tp = None if "throughput" in skip else throughput(code, base, args.throughput_items)

    width = max(len(k) for k in rows) + 2
    head = "".join(f"{n:>12,}" for n in sizes)
    print(f"quotecast scale benchmark ({code}, {os.cpu_count()} cores)")
    print(f"{'figure':<{width}}{head}{'growth':>9}")
    for name, (unit, values) in rows.items():
        cells = "".join(f"{fmt(values.get(n, math.nan), unit):>12}" for n in sizes)
        ex = exponent(sizes, [values.get(n, math.nan) for n in sizes])
        print(f"{name:<{width}}{cells}{'' if ex is None else f'n^{ex:.2f}':>9}".rstrip())
    with_cards = [n for n in sizes if n <= args.cards_upto]
    print(f"(seeded posts have card files at sizes {with_cards}; others none)")
    print(
        f"status on an empty project: {empty_run.seconds:.2f} s (cpu {empty_run.cpu:.2f} s); "
        f"--help: {help_run.seconds:.2f} s (cpu {help_run.cpu:.2f} s)"
    )
    if tp is not None:
        print(
            f"publish --now throughput ({args.throughput_items} items × {len(TARGETS)} targets): "
            f"{tp['render']:.1f} posts/s rendering, {tp['cached']:.1f} posts/s from cached cards "
            f"until the pass report; until exit (bio site built) {tp['render_exit']:.1f} and "
            f"{tp['cached_exit']:.1f}; per CPU second of the whole process "
            f"{tp['render_cpu']:.1f} and {tp['cached_cpu']:.1f}"
        )
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        data = {
            "sizes": sizes,
            "rows": {k: v for k, (_, v) in rows.items()},
            "empty_status": [empty_run.seconds, empty_run.cpu],
            "help": [help_run.seconds, help_run.cpu],
            "throughput": tp,
        }
        args.json.write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
