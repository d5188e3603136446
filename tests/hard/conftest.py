"""Fixtures of the hard-case tests: the throw-away PostgreSQL server (tests/pg.py)."""

from tests.pg import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]
