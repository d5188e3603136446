"""Every third-party module pipeline/ imports belongs to a dependency pyproject.toml declares.

A module that arrives only as some other package's dependency (python-dotenv through
pydantic-settings, markupsafe through jinja2) works until that package changes its own
requirements; a wheel installed from PyPI then breaks on import.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    reqs = list(project["dependencies"])
    extras = project.get("optional-dependencies", {})
    reqs += [r for name, group in extras.items() if name != "dev" for r in group]
    return {_canonical(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in reqs}


def _imported_top_levels() -> dict[str, list[str]]:
    """Top-level module name → files importing it (inside functions too)."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_import_in_pipeline_is_a_declared_dependency() -> None:
    declared = _declared()
    owners = packages_distributions()
    undeclared: list[str] = []
    for module, files in sorted(_imported_top_levels().items()):
        if module in sys.stdlib_module_names or module == "pipeline":
            continue
        dists = {_canonical(d) for d in owners.get(module, [])}
        assert dists, f"{module} (imported by {files[0]}) is not installed at all"
        if not dists & declared:
            undeclared.append(f"{module} from {', '.join(sorted(dists))} (in {files[0]})")
    assert not undeclared, "imported but not declared in pyproject.toml: " + "; ".join(undeclared)


def test_the_check_sees_imports_inside_functions() -> None:
    # the CLI imports heavy modules lazily; the scan must still see them
    found = _imported_top_levels()
    assert "pipeline/cli.py" not in found.get("PIL", [])
    assert any(f.startswith("pipeline/render/") for f in found["PIL"])
    assert "dotenv" in found  # imported inside config._read_dotenv only
