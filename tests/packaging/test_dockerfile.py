"""deploy/Dockerfile, read as text (no Docker daemon here): it installs the built wheel, not
the source tree, with the shaping libraries, and its health check is a real, cheap command."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")


def _instructions(name: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [m.group(1) for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.M)]


def test_the_image_installs_the_wheel_not_an_editable_checkout() -> None:
    runs = " ".join(_instructions("RUN"))
    assert "pip wheel" in runs and re.search(r"pip install /wheels/quotecast-\*\.whl", runs)
    assert not re.search(r"pip install[^&]*\s-e\s", runs), runs
    # the runtime stage copies nothing of the source tree, only the wheel
    final_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    copies = re.findall(r"^COPY\s+(.*)$", final_stage, re.M)
    assert copies == ["--from=build /wheels /wheels"], copies


def test_the_image_has_the_text_shaping_libraries() -> None:
    runs = " ".join(_instructions("RUN"))
    for package in ("libfribidi0", "libharfbuzz0b", "libraqm0"):
        assert re.search(rf"apt-get install [^&]*\b{package}\b", runs), package


def test_the_health_check_is_quotecast_health_which_exists() -> None:
    (health,) = _instructions("HEALTHCHECK")
    command = json.loads(health.split("CMD", 1)[1].strip())
    assert command == ["quotecast", "health"]
    assert "health" in cli.commands  # type: ignore[attr-defined]
    assert "status" not in health


def test_everything_the_build_copies_is_in_the_repository() -> None:
    for args in _instructions("COPY"):
        if args.startswith("--from"):
            continue
        *sources, _dest = args.split()
        for src in sources:
            assert (ROOT / src).exists(), src
