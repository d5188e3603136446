"""The wheel is the product: built, installed non-editable outside the checkout, it works.

The wheel goes into a throw-away venv whose only link to this one is a .pth line naming
this venv's site-packages, so the dependencies need not be downloaded (offline, fast)
while quotecast itself comes from the wheel alone: a .pth line adds a folder to sys.path
without running the .pth files inside it, so the editable install's hook stays inert.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Installed:
    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / ("Scripts" if os.name == "nt" else "bin")

    def run(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("QUOTECAST_", "PYTHON", "VIRTUAL_ENV"))
        }
        env["COLUMNS"] = "100"
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )


def build_wheel(out: Path) -> Path:
    """`pip wheel .` with the hatchling of this venv (no download, no build isolation)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = out.glob("quotecast-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(base / "dist")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (purelib / "_deps_from_dev_venv.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8"
    )
    py = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    yield Installed(wheel, venv)


def test_the_wheel_carries_fonts_licences_templates_and_the_example_config(
    installed: Installed,
) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    source = ROOT / "assets" / "fonts"
    shipped = {p.name for p in source.iterdir() if p.is_file()}
    assert any(n.endswith((".ttf", ".ttc", ".otf")) for n in shipped)
    missing = sorted(n for n in shipped if f"pipeline/_data/fonts/{n}" not in names)
    assert not missing, f"in assets/fonts/ but not in the wheel: {missing}"
    assert "pipeline/_data/config.example.toml" in names
    for template in (ROOT / "pipeline" / "templates").iterdir():
        assert f"pipeline/templates/{template.name}" in names
    assert "pipeline/py.typed" in names


def test_installed_wheel_runs_the_whole_sequence_in_an_empty_folder(
    installed: Installed, tmp_path: Path
) -> None:
    where = installed.run(
        tmp_path,
        "python",
        "-c",
        "import pipeline, pipeline.resources as r; print(pipeline.__file__); "
        "print(r.fonts_dir()); print(r.example_config())",
    )
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert Path(line).is_relative_to(installed.venv), where.stdout  # not the checkout

    work = tmp_path / "empty"
    work.mkdir()
    steps = [
        ("init",),
        (
            "add",
            "--quote",
            "Culture eats strategy for breakfast.",
            "--author",
            "Peter Drucker",
            "--slug",
            "drucker",
        ),
        ("check",),
        ("render",),
        # named: posted now whatever the schedule says (a bare --now posts only what is due)
        ("publish", "--now", "drucker"),
        ("bio",),
        ("plan",),
        ("status",),
    ]
    for args in steps:
        r = installed.run(work, "quotecast", *args)
        assert r.returncode == 0, f"quotecast {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr, r.stderr
    config = (work / "config.toml").read_text(encoding="utf-8")
    assert config.startswith("# quotecast configuration")
    assert sorted(p.name for p in (work / "var" / "preview").iterdir())[0].startswith("drucker-")
    assert (work / "var" / "outbox" / "outbox" / "drucker.json").is_file()
    assert (work / "var" / "site" / "index.html").is_file()
