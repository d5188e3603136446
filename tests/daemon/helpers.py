"""A throw-away project for daemon tests: config with small intervals, items, outbox reading."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.config import Settings, load_settings


def config_text(
    zone: str = "UTC",
    slots: tuple[str, ...] = ("daily 09:00",),
    targets: str | None = None,
    notify: tuple[str, ...] = (),
    **schedule: Any,
) -> str:
    sched = {
        "misfire_grace": 60,
        "rescan_interval": 1.0,
        "watch_interval": 0.2,
        "heartbeat_interval": 0.5,
        "stop_timeout": 10.0,
        "runway_alert_slots": 0,
        **schedule,
    }
    lines = [
        'data_dir = "var"',
        'queue_dir = "queue"',
        f"notify = {json.dumps(list(notify))}",
        "",
        "[publish]",
        "max_attempts = 3",
        "backoff_initial = 0.05",
        "backoff_max = 0.1",
        "",
        targets or '[targets.outbox]\nnetwork = "outbox"\nformat = "square"\n',
        "[schedule]",
        f'timezone = "{zone}"',
        f"slots = {json.dumps(list(slots))}",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in sched.items()]
    return "\n".join(lines) + "\n"


def write_item(
    queue: Path, slug: str, publish_at: datetime | None = None, priority: int = 0, **extra: str
) -> Path:
    lines = [f'quote = "Quote number {slug}."', 'author = "Tester"']
    if publish_at is not None:
        lines.append(f"publish_at = {publish_at.isoformat()}")
    if priority:
        lines.append(f"priority = {priority}")
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    queue.mkdir(parents=True, exist_ok=True)
    path = queue / f"{slug}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_project(root: Path, config: str) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    (root / "queue").mkdir(exist_ok=True)
    (root / "config.toml").write_text(config, encoding="utf-8")
    return load_settings(root / "config.toml", env_file=root / ".env")


def outbox_posts(root: Path, target: str = "outbox") -> list[str]:
    """Slugs in the outbox of `target`, sorted."""
    folder = root / "var" / "outbox" / target
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []
