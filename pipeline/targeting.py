"""Which targets an item goes to: the one rule that check, plan, status and publish share.

Why one function: `targets = []` used to mean "every target" to `check` and "nowhere" to
the runner. Now every reader asks here, so they cannot disagree.

* No `targets` field: every enabled target.
* `targets = ["x", "bluesky"]`: exactly those (a disabled target named here is used).
* `targets = []`: nowhere. The item stays in the queue, is never posted, and `check`,
  `plan` and `publish` say so.
Names the config does not know are returned separately, for a clear problem line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # kept light: config validation imports the schedule, which imports this
    from pipeline.config import Settings
    from pipeline.items import Item

#: what `check`, `plan` and `publish` say about an item with `targets = []`
NO_TARGETS = (
    "targets = [] in its file: posted nowhere; remove the line to post to every enabled "
    "target, or name the targets"
)


def targets_for(item: Item, settings: Settings) -> tuple[list[str], list[str]]:
    """The item's targets (or every enabled one) and the unknown names it lists."""
    if item.targets is None:
        return settings.enabled_targets(), []
    known = [t for t in item.targets if t in settings.targets]
    unknown = [t for t in item.targets if t not in settings.targets]
    return known, unknown


def posts_nowhere(item: Item) -> bool:
    """True for an item whose file says `targets = []`."""
    return item.targets is not None and len(item.targets) == 0
