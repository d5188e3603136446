"""`quotecast init`: a config.toml from the shipped example and a queue/ folder, or nothing.

Either both are in place afterwards or neither was created by this run: the config is
written to a temp file and linked into place, and a failure after that removes what this
run made, so `init` can simply be run again.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from pipeline.errors import ConfigError, QuotecastError
from pipeline.files import create_new
from pipeline.resources import example_config_text


def init_project(config: Path) -> list[str]:
    """Create `config` and the queue folder beside it; return what was done, line by line."""
    try:
        text = example_config_text()
    except OSError as exc:
        raise ConfigError(
            f"the example configuration shipped with quotecast cannot be read ({exc.strerror}); "
            "reinstall quotecast"
        ) from None
    queue = config.parent / "queue"
    if queue.exists() and not queue.is_dir():
        raise ConfigError(f"{queue} exists and is not a folder; move it away and run init again")
    done: list[str] = []
    try:
        wrote = create_new(config, text.encode("utf-8"))
    except OSError as exc:  # the temp file's name would say nothing useful here
        raise QuotecastError(
            f"{config}: cannot be written ({exc.strerror}); run init in a folder you can "
            "write to, or pass --config PATH"
        ) from None
    done.append(f"wrote {config}" if wrote else f"{config} already exists; left unchanged")
    try:
        if queue.is_dir():
            done.append(f"{queue}/ already exists; left unchanged")
        else:
            queue.mkdir(parents=False)
            done.append(f"created {queue}/")
    except BaseException as exc:
        if wrote:
            with contextlib.suppress(OSError):
                config.unlink()
        if isinstance(exc, OSError):
            raise QuotecastError(
                f"{queue}: cannot be created ({exc.strerror}); nothing was written, "
                "so init can be run again once that is fixed"
            ) from None
        raise
    return done
