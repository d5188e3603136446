"""`quotecast bio` as a real subprocess, and the rebuild after `publish --now`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bio.helpers import copy_project, posted_project, site
from tests.conftest import Project


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return posted_project(tmp_path_factory.mktemp("bio-cli") / "proj")


def _with_site(project: Project, extra: str) -> None:
    text = project.config.read_text(encoding="utf-8")
    marker = 'title = "Global Advisors — quotes"\n'
    project.config.write_text(text.replace(marker, marker + extra + "\n"), encoding="utf-8")


def test_bio_command_builds_the_site(published: Project, tmp_path: Path) -> None:
    project = copy_project(published, tmp_path / "p")
    (site(project) / "index.html").unlink()
    r = project.run("bio")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"built {site(project) / 'index.html'} (5 cards, 2 item pages)"
    assert (site(project) / "index.html").is_file()
    assert (site(project) / "feed.json").is_file() and (site(project) / "feed.xml").is_file()


def test_bio_command_reports_a_failed_deploy(published: Project, tmp_path: Path) -> None:
    project = copy_project(published, tmp_path / "p")
    _with_site(project, "deploy = \"sh -c 'echo no route to host >&2; exit 12'\"")
    r = project.run("bio")
    assert r.returncode == 1
    assert "error: site.deploy (sh) exited 12: no route to host" in r.stderr
    assert "the site is built but not deployed" in r.stderr
    assert "Traceback" not in r.stderr
    assert "built " in r.stdout and (site(project) / "index.html").is_file()
    assert project.run("bio", "--no-deploy").returncode == 0


def test_bio_command_runs_a_working_deploy(published: Project, tmp_path: Path) -> None:
    project = copy_project(published, tmp_path / "p")
    _with_site(project, 'deploy = "cp -r {site} public"')
    r = project.run("bio")
    assert r.returncode == 0, r.stderr
    assert "deployed with cp" in r.stdout
    assert (project.root / "public/index.html").is_file()


def test_publish_rebuilds_the_site_and_a_failed_deploy_is_not_fatal(
    bare_project: Project,
) -> None:
    bare_project.write_config(bare_project.config.read_text() + '\n[site]\ndeploy = "false"\n')
    bare_project.add_item("one.toml", 'quote = "Small steps."\nauthor = "A. Person"\n')
    r = bare_project.run("publish", "--now", "--all", "--yes")
    assert r.returncode == 0, r.stderr
    assert "posted" in r.stdout
    assert "not deployed" in r.stderr
    html = (site(bare_project) / "index.html").read_text(encoding="utf-8")
    assert 'data-slug="one"' in html
