"""What this machine handed to a network for each post, written to disk before the publish call.

Why: Instagram, Threads and Facebook stories publish in two steps (make a container or an
unpublished photo, then publish it). The only request that can make a post is the second,
and it names the first by id. Recording that id — fsynced — before the second request means
a later pass can ask the network about exactly that container: PUBLISHED, or provably not.
One small JSON file per (target, idempotency key) under <data>/journal/<network>/<target>/.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.files import atomic_write

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class Attempt:
    """One container (or unpublished photo) made for a post."""

    container: str
    created: float  # epoch seconds
    image_url: str | None = None
    publishing: float | None = None  # set just before the publish request
    media_id: str | None = None  # set when the network answered with the published id


class Journal:
    """Attempts per post of one target; only the process holding the ledger claim writes."""

    def __init__(self, data_dir: Path, network: str, target: str) -> None:
        self.folder = data_dir / "journal" / _SAFE.sub("_", network) / _SAFE.sub("_", target)

    def _path(self, key: str) -> Path:
        return self.folder / f"{_SAFE.sub('_', key)}.json"

    def attempts(self, key: str) -> list[Attempt]:
        """Oldest first; an unreadable file reads as empty (it is rewritten whole each time)."""
        path = self._path(key)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        fields = set(Attempt.__dataclass_fields__)
        return [
            Attempt(**{k: v for k, v in entry.items() if k in fields})
            for entry in raw.get("attempts", [])
            if isinstance(entry, dict) and entry.get("container")
        ]

    def record(self, key: str, attempt: Attempt) -> None:
        """Add or update (by container id) one attempt; durable when this returns."""
        attempts = [a for a in self.attempts(key) if a.container != attempt.container]
        attempts.append(attempt)
        attempts.sort(key=lambda a: a.created)
        data = json.dumps({"key": key, "attempts": [asdict(a) for a in attempts]}, indent=1)
        atomic_write(self._path(key), data.encode("utf-8"))

    def media_ids(self) -> set[str]:
        """Every published id recorded for this target: to tell our own stories apart."""
        found: set[str] = set()
        if not self.folder.is_dir():
            return found
        for path in self.folder.glob("*.json"):
            for attempt in self.attempts(path.stem):
                if attempt.media_id:
                    found.add(attempt.media_id)
        return found


__all__ = ["Attempt", "Journal"]
