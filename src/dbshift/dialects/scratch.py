"""Scratch databases: created, cloned and dropped on a server (the pytest plugin,
`dbshift.testing`, makes one per test).

`Backend.scratch()` gives a backend's `Scratch`; this base is standard SQL on a server
(`CREATE DATABASE`, `DROP DATABASE`) and cannot clone. SQLite's databases are files
(`dialects/sqlite/scratch.py`, cloned by copying the file), PostgreSQL clones a
template database (`dialects/postgresql/scratch.py`), MariaDB/MySQL copies a
database's tables and rows (`dialects/mysql/scratch.py`).

Every method takes the *server* URL (a synchronous driver): the database it names is
where the server-wide statements run, never one that is created or dropped. Names
are made by the caller (letters, digits, `_`) and still quoted through the dialect.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import URL


class Clone(Protocol):
    """Copies one migrated database (the template) into new databases."""

    def __call__(self, name: str) -> URL:
        """Make database `name` a copy of the template, schema and rows; its URL."""
        ...


class Scratch:
    """Standard SQL: databases created and dropped on the server; no clone. Its
    connections are made as dbshift's own are (`prepare`: the backend's
    `prepare_engine`, which `Backend.scratch()` hands over)."""

    #: databases are files in the folder of the server URL's file (SQLite), not
    #: databases on a server
    in_folder = False

    def __init__(self, prepare: Callable[[sa.Engine], None] | None = None) -> None:
        self.prepare = prepare

    @contextlib.contextmanager
    def admin(self, server: URL) -> Iterator[sa.Connection]:
        """One autocommit connection to `server` (CREATE and DROP DATABASE refuse to
        run inside a transaction), closed after."""
        with _engine(server, self.prepare).connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def url_of(self, server: URL, name: str) -> URL:
        """The URL of database `name` on `server`."""
        return server.set(database=name)

    def create(self, server: URL, name: str) -> URL:
        """Create the empty database `name`; its URL."""
        with self.admin(server) as conn:
            conn.execute(sa.text(f"CREATE DATABASE {quoted(conn, name)}"))
        return self.url_of(server, name)

    def drop(self, server: URL, name: str) -> None:
        """Drop database `name` if it exists (connections to it are the caller's to
        close first, except where the backend can end them)."""
        with self.admin(server) as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted(conn, name)}"))

    def cloner(self, server: URL, template: str) -> Clone | None:
        """A `Clone` of the migrated database `template`, or None where this backend
        cannot copy one (the caller then migrates each new database from empty). Asked
        once per template, after it is migrated and its connections closed."""
        return None


@functools.cache
def _engine(server: URL, prepare: Callable[[sa.Engine], None] | None) -> sa.Engine:
    """One engine per server for the process: without a pool it holds no connection,
    and its dialect, set up on the first connection, serves every later one (a test
    session creates and drops a database per test)."""
    engine = sa.create_engine(server, poolclass=sa.NullPool)
    if prepare is not None:
        prepare(engine)
    return engine


def quoted(conn: sa.Connection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote_identifier(name))
