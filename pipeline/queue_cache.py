"""Parsed queue files, remembered by path, size and modification time.

Parsing and validating 10,000 queue files takes seconds; statting them takes
milliseconds. `status`, `plan`, `bio`, every pass and every daemon rescan read
the whole queue, so each keeps what it parsed: in memory for the daemon, and in
<data>/cache/queue.json between commands. An entry is reused only while the
file's (size, mtime_ns, inode) and, for items with a picture checked, the
picture's are unchanged (and the file is older than two seconds: a change
within one timestamp tick would not show), and only by the same items.py, time zone and
`check_images`; anything else is parsed again. The cache holds only what
parse_item returned (an Item) or raised (its Problems), as plain JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import MISSING, fields
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline import items as items_module
from pipeline.files import atomic_write
from pipeline.items import Item, ItemError, Problem, QueueScan, load_queue, parse_item

log = logging.getLogger("quotecast")

_FORMAT = 2


def _code_version() -> str:
    """items.py decides what a file means: a new items.py starts a new cache."""
    data = Path(items_module.__file__).read_bytes()
    return hashlib.sha256(data + str(_FORMAT).encode()).hexdigest()[:16]


RACY_NS = 2_000_000_000


def _stamp(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _settled(stamp: list[int]) -> bool:
    """A file changed within the last two seconds may change again within the same
    timestamp tick (as git's "racily clean" entries): parse it rather than trust it."""
    return time.time_ns() - stamp[1] > RACY_NS


def _encode(v: Any) -> Any:
    if isinstance(v, Path):
        return {"p": str(v)}
    if isinstance(v, datetime):
        key = getattr(v.tzinfo, "key", None)
        return {"d": v.isoformat(), "z": key}
    if isinstance(v, tuple):
        return {"t": [_encode(x) for x in v]}
    return v


def _decode(v: Any) -> Any:
    if isinstance(v, dict):
        if "p" in v:
            return Path(v["p"])
        if "d" in v:
            dt = datetime.fromisoformat(v["d"])
            return dt.astimezone(ZoneInfo(v["z"])) if v.get("z") else dt
        if "t" in v:
            return tuple(_decode(x) for x in v["t"])
    return v


def _dump(obj: Item | Problem) -> dict[str, Any]:
    """The fields that differ from their defaults (the rest come back from the class)."""
    out = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.default is MISSING or value != f.default:
            out[f.name] = _encode(value)
    return out


class ParseCache:
    """A memo of parse_item; pass `cache.parse` to load_queue, or call `cache.load`."""

    def __init__(self, store: Path | None = None) -> None:
        self.store = store
        self._entries: dict[str, dict[str, Any]] = {}
        # what this process already decoded: (stamp, image stamp, Item or Problems)
        self._memo: dict[str, tuple[Any, Any, Item | list[Problem]]] = {}
        self._dirty = False
        self._version = ""
        self._lock = threading.RLock()  # the daemon's watcher and its passes share one cache
        self.parsed = 0  # files parsed (not served from the cache) since creation
        if store is not None:
            self._read()

    def _read(self) -> None:
        assert self.store is not None
        self._version = _code_version()
        try:
            data = json.loads(self.store.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and data.get("version") == self._version:
            entries = data.get("entries")
            if isinstance(entries, dict):
                self._entries = entries

    def save(self) -> None:
        """Write what changed (atomically); a cache that cannot be written is only slower."""
        if self.store is None or not self._dirty:
            return
        try:
            text = json.dumps({"version": self._version, "entries": self._entries})
            atomic_write(self.store, text.encode("utf-8"))
            self._dirty = False
        except OSError as exc:
            log.debug("queue cache not saved: %s", exc)

    def parse(self, path: Path, queue_dir: Path, tz: ZoneInfo, check_image: bool = True) -> Item:
        key = f"{path}\0{tz.key}\0{int(check_image)}"
        stamp = _stamp(path)
        hit = self._entries.get(key)
        if hit is None:
            # an item valid with its picture checked will do unchecked, and one parsed
            # unchecked will do checked when it has no picture (there is nothing to check)
            other_key = f"{path}\0{tz.key}\0{int(not check_image)}"
            other = self._entries.get(other_key)
            dumped = other.get("item") if other is not None else None
            if dumped is not None and (not check_image or "image" not in dumped):
                key, hit = other_key, other
        if (
            hit is not None
            and stamp is not None
            and hit["stamp"] == stamp
            and _settled(stamp)
            and (hit.get("image") is None or _stamp(Path(hit["image"])) == hit["image_stamp"])
        ):
            memo = self._memo.get(key)
            if memo is not None and memo[0] == stamp and memo[1] == hit.get("image_stamp"):
                value = memo[2]
            elif "problems" in hit:
                value = [Problem(**_decode_all(p)) for p in hit["problems"]]
            else:
                value = Item(**_decode_all(hit["item"]))
            self._memo[key] = (stamp, hit.get("image_stamp"), value)
            if isinstance(value, list):
                raise ItemError(value)
            return value
        self.parsed += 1
        try:
            item = parse_item(path, queue_dir, tz, check_image)
        except ItemError as exc:
            self._put(key, stamp, {"problems": [_dump(p) for p in exc.problems]})
            raise
        entry: dict[str, Any] = {"item": _dump(item)}
        if check_image and item.image is not None:
            entry["image"] = str(item.image)
            entry["image_stamp"] = _stamp(item.image)
        self._put(key, stamp, entry)
        return item

    def _put(self, key: str, stamp: list[int] | None, entry: dict[str, Any]) -> None:
        if stamp is None:
            return
        entry["stamp"] = stamp
        self._entries[key] = entry
        self._dirty = True

    def load(self, queue_dir: Path, tz: ZoneInfo, check_images: bool = True) -> QueueScan:
        """load_queue through this cache, forgetting files that are gone, then saved."""
        with self._lock:
            scan = load_queue(queue_dir, tz, check_images, parse=self.parse)
            prefix = f"{queue_dir}{os.sep}"
            live = {str(p.path) for p in scan.problems} | {str(i.path) for i in scan.items}
            for key in [k for k in self._entries if k.startswith(prefix)]:
                if key.split("\0", 1)[0] not in live:
                    del self._entries[key]
                    self._memo.pop(key, None)
                    self._dirty = True
            self.save()
        return scan


def _decode_all(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (_decode(v) if type(v) is dict else v) for k, v in d.items()}


def store_for(data_dir: Path) -> Path:
    return data_dir / "cache" / "queue.json"


_shared: dict[Path, ParseCache] = {}


def shared(data_dir: Path) -> ParseCache:
    """This process's cache for data_dir: a pass and the bio build after it parse once."""
    store = store_for(data_dir)
    if store not in _shared:
        _shared[store] = ParseCache(store)
    return _shared[store]


def load_queue_cached(
    queue_dir: Path, tz: ZoneInfo, data_dir: Path, check_images: bool = True
) -> QueueScan:
    """load_queue, reusing what an earlier command parsed (kept under data_dir/cache/)."""
    return shared(data_dir).load(queue_dir, tz, check_images)
