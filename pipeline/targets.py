"""Which targets an item goes to: one rule for check, plan, status and the runner.

Kept apart from pipeline.runner so that reading the plan or the status does not
import rendering, captions and every publisher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.items import Item


def targets_for(item: Item, settings: Settings) -> tuple[list[str], list[str]]:
    """The item's targets (or every enabled one) and the unknown names it lists."""
    if item.targets is None:
        return settings.enabled_targets(), []
    known = [t for t in item.targets if t in settings.targets]
    unknown = [t for t in item.targets if t not in settings.targets]
    return known, unknown
