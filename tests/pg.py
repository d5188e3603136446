"""A throw-away PostgreSQL server on 127.0.0.1 for the tests of the shared ledger.

One server per test session (initdb takes a few seconds); each test gets its own database.
PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user (or
`nobody`). Tests are skipped, with the reason, when no server binaries or no psycopg exist;
`.ci/run` installs Debian's `postgresql` so CI runs them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SEARCH = ("/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))


INITDB_FLAGS = ("--no-sync", "--no-instructions")
#: loopback only; durability off (a test server's data is thrown away)
SERVER_FLAGS = (
    *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
    *("-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
)


def _binaries() -> tuple[str, str] | None:
    for folder in (None, *SEARCH):
        initdb = shutil.which("initdb", path=folder)
        postgres = shutil.which("postgres", path=folder or os.path.dirname(initdb or ""))
        if initdb and postgres:
            return initdb, postgres
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """initdb + postgres in a temp folder; `stop()`/`start()` for tests of an outage."""

    def __init__(self, initdb: str, postgres: str) -> None:
        self.postgres = postgres
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    pwd.getpwnam(name)
                    self.user = name
                    break
        self.root = Path(tempfile.mkdtemp(prefix="quotecast-pg-"))
        self.data = self.root / "data"
        self.root.chmod(0o755)
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._run(
            [
                initdb,
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "quotecast",
                "-E",
                "UTF8",
                *INITDB_FLAGS,
            ]
        )

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(cmd, user=self.user, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd[0]} failed: {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.postgres,
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                *SERVER_FLAGS,
            ],
            user=self.user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the test PostgreSQL server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are cut off, as when a server goes down."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)
        self.proc = None

    def dsn(self, db: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=quotecast dbname={db}"

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://quotecast@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh, empty database's SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'quotecast[postgres]')")
    found = _binaries()
    if found is None:
        pytest.skip("no PostgreSQL server binaries (initdb, postgres); apt-get install postgresql")
    if os.geteuid() == 0 and not any(_user_exists(u) for u in ("postgres", "nobody")):
        pytest.skip("running as root without a `postgres` or `nobody` user to run the server")
    server = PgServer(*found)
    try:
        server.start()
        yield server
    finally:
        server.close()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh database on the session's server, as a ledger URL."""
    if pg_server.proc is None:  # a test stopped it
        pg_server.start()
    return pg_server.new_database()
