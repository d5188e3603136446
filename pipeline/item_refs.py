"""An item's references into the configuration (its theme and target names), checked by
name so that a typo in one queue file is that file's problem, never a KeyError that
stops a pass. Cheap: no rendering, so `status` can show them too."""

from __future__ import annotations

from pipeline.config import Settings
from pipeline.items import Item, Problem


def theme_problem(item: Item, settings: Settings) -> str | None:
    """Why the item's theme cannot be used (None: it can)."""
    if item.theme and item.theme not in settings.themes:
        known = ", ".join(settings.themes)
        return f"no theme named {item.theme!r}; use one of {known}"
    return None


def reference_problems(item: Item, settings: Settings) -> list[Problem]:
    """Unknown target and theme names in one item, said as `check` says them."""
    problems = []
    for name in item.targets or ():
        if name not in settings.targets:
            known = ", ".join(settings.targets)
            problems.append(
                Problem(item.path, None, "targets", f"no target named {name!r}; use one of {known}")
            )
    if why := theme_problem(item, settings):
        problems.append(Problem(item.path, None, "theme", why))
    return problems
