"""`quotecast check`: everything that would stop an item, found before it is scheduled."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.captions import write_caption
from pipeline.config import Settings
from pipeline.errors import QuotecastError
from pipeline.items import Problem, load_queue
from pipeline.render import render_card
from pipeline.targeting import NO_TARGETS, posts_nowhere, targets_for


@dataclass
class CheckResult:
    item_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    ok_lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def run_checks(settings: Settings, render: bool = True, today: date | None = None) -> CheckResult:
    """Validate every target's options and every queue file, then render and caption each
    valid item per target."""
    result = CheckResult()
    result.problems.extend(option_problems(settings))
    result.warnings.extend(network_warnings(settings, today or date.today()))
    scan = load_queue(settings.queue_path, ZoneInfo(settings.schedule.timezone))
    result.problems.extend(scan.problems)
    for item in scan.items:
        bad = False
        targets, unknown = targets_for(item, settings)
        for name in unknown:
            known = ", ".join(settings.targets)
            result.problems.append(
                Problem(item.path, None, "targets", f"no target named {name!r}; use one of {known}")
            )
            bad = True
        if item.theme and item.theme not in settings.themes:
            known = ", ".join(settings.themes)
            result.problems.append(
                Problem(
                    item.path, None, "theme", f"no theme named {item.theme!r}; use one of {known}"
                )
            )
            continue
        rendered: set[tuple[str, str]] = set()
        for target in targets:
            conf = settings.targets[target]
            fmt_name, fmt = settings.format_for(target)
            theme_name, theme = settings.theme_for(item.theme, target)
            if render and (theme_name, fmt_name) not in rendered:
                rendered.add((theme_name, fmt_name))
                try:
                    render_card(item, theme, fmt_name, fmt, settings.brand, settings.base_dir)
                except QuotecastError as exc:
                    result.problems.append(
                        Problem(item.path, None, f"quote ({fmt_name})", str(exc))
                    )
                    bad = True
            try:
                write_caption(item, target, conf.network, settings)
            except QuotecastError as exc:
                result.problems.append(Problem(item.path, None, f"caption ({target})", str(exc)))
                bad = True
        if not bad:
            result.item_count += 1
            where = ", ".join(targets) or (
                f"(no targets: {NO_TARGETS})" if posts_nowhere(item) else "(no enabled targets)"
            )
            result.ok_lines.append(f"ok  {item.slug}  → {where}")
    return result


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


def option_line(text: str, target: str, key: str) -> int | None:
    """The line of `key` under [targets.<target>.options] (or in an inline options table)."""
    section = ""
    key_re = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    inline_re = re.compile(rf'[{{,]\s*"?{re.escape(key)}"?\s*=')
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if stripped.startswith("["):
            section = stripped.strip("[] ").replace('"', "").replace(" ", "")
            continue
        if section == f"targets.{target}.options" and key_re.match(line):
            return number
        if (
            section == f"targets.{target}"
            and stripped.startswith("options")
            and inline_re.search(line)
        ):
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
