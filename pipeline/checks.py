"""`quotecast check`: everything that would stop an item, found before it is scheduled.

`add` and `import` run the same per-item checks (`check_item`) before writing a
queue file, so nothing accepted at the door is refused later.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.captions import write_caption
from pipeline.config import Settings
from pipeline.errors import UNUSUAL_TEXT, QuotecastError, is_system_error, unexpected
from pipeline.item_refs import reference_problems, theme_problem
from pipeline.items import Item, Problem, load_queue
from pipeline.render import render_card
from pipeline.render.cache import Verdicts, fitted_size
from pipeline.targeting import NO_TARGETS, posts_nowhere, targets_for


@dataclass
class CheckResult:
    item_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    ok_lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ok_items: list[tuple[str, list[str]]] = field(default_factory=list)  # slug, its targets


@dataclass
class ItemCheck:
    targets: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def run_checks(
    settings: Settings,
    render: bool = True,
    today: date | None = None,
    full_render: bool = False,
) -> CheckResult:
    """Validate every target's options and every queue file, then lay out (or with
    `full_render`, render and encode) and caption each valid item per target.

    The layout alone finds everything a render would refuse (fit, glyph coverage) at a
    fraction of the cost; a quote set below the theme's readable size is a warning.
    """
    result = CheckResult()
    result.problems.extend(option_problems(settings))
    result.warnings.extend(network_warnings(settings, today or date.today()))
    scan = load_queue(settings.queue_path, ZoneInfo(settings.schedule.timezone))
    result.problems.extend(scan.problems)
    verdicts = Verdicts(settings.data_path / "cards")
    for item, checked in zip(
        scan.items, _check_all(scan.items, settings, render, full_render, verdicts), strict=True
    ):
        result.problems.extend(checked.problems)
        result.warnings.extend(checked.warnings)
        if not checked.problems:
            result.item_count += 1
            targets = checked.targets
            where = ", ".join(targets) or (
                f"(no targets: {NO_TARGETS})" if posts_nowhere(item) else "(no enabled targets)"
            )
            result.ok_lines.append(f"ok  {item.slug}  → {where}")
            result.ok_items.append((item.slug, list(targets)))
    verdicts.save()
    return result


PARALLEL_FROM = 200  # items: below this, starting workers costs more than it saves
CHUNK = 50
MAX_WORKERS = 4
_WORKER: tuple[Settings, bool, bool, Verdicts] | None = None  # set only around a pool


def _check_all(
    items: list[Item], settings: Settings, render: bool, full_render: bool, verdicts: Verdicts
) -> list[ItemCheck]:
    """Each item checked, in order; over a large queue in one forked worker per core.

    Layout is pure CPU work in Python, so threads would not help; fork shares the loaded
    fonts and settings with the workers, and each sends back its checks and verdicts.
    """
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    if len(items) < PARALLEL_FROM or workers < 2 or "fork" not in mp.get_all_start_methods():
        return [_checked(item, settings, render, full_render, verdicts) for item in items]
    # the first chunk here: the workers are forked with its fonts and caches already warm
    out = [_checked(item, settings, render, full_render, verdicts) for item in items[:CHUNK]]
    chunks = [items[i : i + CHUNK] for i in range(CHUNK, len(items), CHUNK)]
    ctx = mp.get_context("fork")
    global _WORKER
    _WORKER = (settings, render, full_render, verdicts)  # inherited by the forked workers
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for checks, learned in pool.map(_check_chunk, chunks):
                out.extend(checks)
                verdicts.merge(learned)
    finally:
        _WORKER = None
    return out


def _check_chunk(items: list[Item]) -> tuple[list[ItemCheck], dict[str, int]]:
    """In a worker: one chunk's checks, and the verdicts it looked up or computed."""
    assert _WORKER is not None, "only called in a worker forked by _check_all"
    settings, render, full_render, verdicts = _WORKER
    checks = [_checked(item, settings, render, full_render, verdicts) for item in items]
    return checks, verdicts.learned()


def _checked(
    item: Item, settings: Settings, render: bool, full_render: bool, verdicts: Verdicts
) -> ItemCheck:
    try:
        return check_item(item, settings, render, full_render, verdicts)
    except Exception as exc:  # one item's surprise must not hide the others' results
        if is_system_error(exc):
            raise
        why = unexpected(exc, "checking this item", UNUSUAL_TEXT)
        return ItemCheck(problems=[Problem(item.path, None, None, why)])


def option_problems(settings: Settings) -> list[Problem]:
    """Each target's `options` against its network's model (unknown keys refused), named
    with the config file's line, so a misspelt key is caught before anything is posted."""
    from pipeline.publishers.options import option_problems as check_options

    path = settings.config_path or Path("config.toml")
    text = ""
    if settings.config_path is not None:
        try:
            text = settings.config_path.read_text(encoding="utf-8")
        except OSError:
            text = ""
    out = []
    for name, conf in settings.targets.items():
        for key, message in check_options(conf.network, dict(conf.options)):
            line = option_line(text, name, key.split(".")[0]) if key else None
            field_name = f"targets.{name}.options" + (f".{key}" if key else "")
            out.append(Problem(path, line, field_name, message.partition(": ")[2] or message))
    return out


_KEY_PART = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*""")


def _dotted(text: str) -> list[str] | None:
    """A TOML dotted key (`targets."p b".options`) as its parts; None if it is not one."""
    parts: list[str] = []
    pos = 0
    while True:
        m = _KEY_PART.match(text, pos)
        if m is None:
            return None
        parts.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
        if pos == len(text):
            return parts
        if text[pos] != ".":
            return None
        pos += 1


def option_line(text: str, target: str, key: str) -> int | None:
    """The line of `key` in target `target`'s options, however the TOML spells it: under
    [targets.<target>.options], as a dotted key (`options.key = …`), or in an inline table."""
    section: list[str] = []
    wanted = ["targets", target, "options"]
    inline_re = re.compile(rf"""[{{,]\s*["']?{re.escape(key)}["']?\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            inner = stripped.lstrip("[").split("]", 1)[0]
            section = _dotted(inner) or []
            continue
        if "=" not in stripped or stripped.startswith("#"):
            continue
        path = _dotted(stripped.split("=", 1)[0])
        if path is None:
            continue
        full = section + path
        if full == [*wanted, key]:
            return number
        if full == wanted and inline_re.search(line):
            return number
    return None


def network_warnings(settings: Settings, today: date) -> list[str]:
    """What will stop working soon although it works today (LinkedIn API versions)."""
    out = []
    for name, conf in settings.targets.items():
        if conf.network == "linkedin" and conf.enabled:
            from pipeline.publishers.linkedin import DEFAULT_VERSION, version_warning

            version = str(conf.options.get("linkedin_version") or DEFAULT_VERSION)
            warning = version_warning(version, today)
            if warning:
                out.append(f"targets.{name}.options.linkedin_version: {warning}")
    return out


def check_item(
    item: Item,
    settings: Settings,
    render: bool = True,
    full_render: bool = False,
    verdicts: Verdicts | None = None,
) -> ItemCheck:
    """Everything that would stop this item: its target and theme names, and a card
    and a caption for each of its targets. Layout verdicts go to `verdicts` (the caller
    saves them); without it, to the card cache at once."""
    if verdicts is None:
        verdicts = Verdicts(settings.data_path / "cards")
        try:
            return check_item(item, settings, render, full_render, verdicts)
        finally:
            verdicts.save()
    out = ItemCheck(problems=reference_problems(item, settings))
    if theme_problem(item, settings):
        return out
    targets, _unknown = targets_for(item, settings)  # unknown names: reference_problems
    out.targets = targets
    rendered: set[tuple[str, str]] = set()
    for target in targets:
        conf = settings.targets[target]
        fmt_name, fmt = settings.format_for(target)
        theme_name, theme = settings.theme_for(item.theme, target)
        if render and (theme_name, fmt_name) not in rendered:
            rendered.add((theme_name, fmt_name))
            try:
                if full_render:
                    render_card(item, theme, fmt_name, fmt, settings.brand, settings.base_dir)
                size = fitted_size(
                    item, theme, fmt_name, fmt, settings.brand, settings.base_dir, verdicts
                )
                at_1080 = size * 1080 / fmt.width
                if at_1080 < theme.quote_size_readable:
                    out.warnings.append(
                        f"{item.path}: quote ({fmt_name}): set at {size} px, "
                        f"below the readable {theme.quote_size_readable} px (at 1080 wide) "
                        f"for {len(item.quote)} characters; consider shortening it"
                    )
            except QuotecastError as exc:
                out.problems.append(Problem(item.path, None, f"quote ({fmt_name})", str(exc)))
            except Exception as exc:  # e.g. Pillow's "raster overflow" on a huge glyph
                if is_system_error(exc):
                    raise
                why = unexpected(exc, "drawing the card", UNUSUAL_TEXT)
                out.problems.append(Problem(item.path, None, f"card ({fmt_name})", why))
        try:
            write_caption(item, target, conf.network, settings)
        except QuotecastError as exc:
            out.problems.append(Problem(item.path, None, f"caption ({target})", str(exc)))
        except Exception as exc:
            if is_system_error(exc):
                raise
            why = unexpected(exc, "writing the caption", UNUSUAL_TEXT)
            out.problems.append(Problem(item.path, None, f"caption ({target})", why))
    return out
