"""Running `site.deploy` after the bio site (or a public card) changes.

Kept apart from bio.py so that publishers needing public card URLs can deploy
the site without importing the bio builder (and through it the ledger).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings


@dataclass
class DeployResult:
    ok: bool
    message: str


def deploy(settings: Settings, site: Path) -> DeployResult | None:
    """Run site.deploy (no shell; `{site}` becomes the site folder) from the config's folder."""
    command = settings.site.deploy
    if not command:
        return None
    try:
        argv = shlex.split(command.replace("{site}", shlex.quote(str(site))))
    except ValueError as exc:
        return DeployResult(False, f"site.deploy is not a valid command line: {exc}")
    if not argv:
        return DeployResult(False, "site.deploy is empty")
    timeout = settings.site.deploy_timeout
    try:
        proc = subprocess.run(
            argv,
            cwd=settings.base_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return DeployResult(False, f"site.deploy ({argv[0]}) did not finish in {timeout:g}s")
    except FileNotFoundError:
        return DeployResult(False, f"site.deploy: command {argv[0]!r} not found")
    except OSError as exc:
        return DeployResult(False, f"site.deploy ({argv[0]}) could not start: {exc.strerror}")
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        last = lines[-1][:300] if lines else "no output"
        return DeployResult(False, f"site.deploy ({argv[0]}) exited {proc.returncode}: {last}")
    return DeployResult(True, f"deployed with {argv[0]}")
