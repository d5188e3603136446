"""The door: what `add`, `import` (and the studio) accept is what `check` accepts.

A new queue file is read back by the loader and then put through `check`'s own
per-item checks (names, card, caption) before it is placed in the queue, so an
item accepted here is never refused later.
"""

from __future__ import annotations

from pipeline.checks import check_item
from pipeline.config import Settings
from pipeline.errors import UNUSUAL_TEXT, is_system_error, unexpected
from pipeline.items import Item, Problem, Vet


def vet_with_check(settings: Settings) -> Vet:
    """`check`'s verdict on one new item: its problems, or none."""

    def vet(item: Item) -> list[Problem]:
        try:
            return check_item(item, settings).problems
        except Exception as exc:  # the same isolation as `check`: a line, not a traceback
            if is_system_error(exc):
                raise
            return [Problem(item.path, None, None, unexpected(exc, "checking it", UNUSUAL_TEXT))]

    return vet
