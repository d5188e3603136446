"""Issue 17 case 7, the disk: a full disk or a read-only ledger stops the pass with one line
that says what was posted before it stopped, and nothing is lost or posted twice after.

The faults are real: the project's data folder is a small tmpfs (a real ENOSPC when it fills),
and the read-only ledger is a read-only bind mount of the file. Mounting needs root (or
CAP_SYS_ADMIN); elsewhere these tests are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.fakes import Fault
from tests.hard.test_ledger_integrity import one_error_line
from tests.integration.harness import (
    add_items,
    configure,
    row,
    running,
    wait_until_leases_expire,
)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def small_disk(bare_project: Project) -> Iterator[Path]:
    """The project's data folder on its own 4 MB tmpfs."""
    var = bare_project.var
    var.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=4m", "quotecast-test", str(var))
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {detail}")
    try:
        yield var
    finally:
        subprocess.run(["umount", "-l", str(var)], check=False, capture_output=True)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk is full; return it (delete it to free the disk)."""
    filler = folder / "filler.bin"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as fh:
        chunk = b"\0" * 65536
        while True:
            fh.write(chunk)
    with contextlib.suppress(OSError), filler.open("ab", buffering=0) as fh:
        while True:
            fh.write(b"\0")
    return filler


def test_full_disk_mid_pass_says_what_was_posted_and_loses_nothing(
    bare_project: Project, small_disk: Path
) -> None:
    project = bare_project
    with running("mastodon") as nets:
        net = nets["mastodon"]
        configure(project, [net])
        add_items(project, "alpha", "beta", "gamma")
        # alpha posts normally; beta's request is held while the test fills the disk
        held = net.fake.inject(net.create, Fault(), Fault.held())
        proc = project.popen("publish", "--now", "--all", "--yes", env=net.env)
        try:
            assert held.arrived.wait(60), "beta's post request never arrived"
            filler = fill(small_disk)
            assert held.hold is not None
            held.hold.set()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 2, out + err
        line = one_error_line(
            subprocess.CompletedProcess([], 2, out, err), "disk is full", "posted 1"
        )
        assert "alpha → mastodon" in line and "beta → mastodon was in progress" in line
        assert len(net.held()) == 2  # alpha, and beta (the network has it)

        # space again: the next pass settles beta through the network and posts gamma
        filler.unlink()
        wait_until_leases_expire(project)
        again = project.run("publish", "--now", "--all", "--yes", env=net.env)
        assert again.returncode == 0, again.stdout + again.stderr
        for slug in ("alpha", "beta", "gamma"):
            assert len(net.held_for(slug)) == 1, slug
            got = row(project, slug, "mastodon")
            assert got is not None and got.state == "posted", (slug, got)


def test_read_only_ledger_stops_with_one_line(bare_project: Project, small_disk: Path) -> None:
    project = bare_project
    with running("mastodon") as nets:
        net = nets["mastodon"]
        configure(project, [net])
        add_items(project, "alpha")
        first = project.run("publish", "--now", "--all", "--yes", env=net.env)
        assert first.returncode == 0, first.stdout + first.stderr
        ledger = small_disk / "ledger.sqlite3"
        _mount("--bind", str(ledger), str(ledger))
        try:
            _mount("-o", "remount,ro,bind", str(ledger))
            with pytest.raises(OSError):
                os.utime(ledger)  # really read-only, for root too
            add_items(project, "alpha", "beta")
            result = project.run("publish", "--now", "--all", "--yes", env=net.env)
        finally:
            subprocess.run(["umount", str(ledger)], check=False, capture_output=True)
        assert result.returncode == 2, result.stdout + result.stderr
        one_error_line(result, "read-only")
        assert len(net.held()) == 1  # beta was not sent while it could not be recorded
