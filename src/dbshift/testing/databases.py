"""The databases the pytest plugin hands to tests: a server (the URL given to the
plugin), one template database migrated to head per test session, and for each test a
database of its own, a clone of the template where the backend can copy one
(`Backend.scratch().cloner`), else migrated from empty; every one dropped after."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from dbshift import api, database
from dbshift.config import Config, redact
from dbshift.dialects import backend_for
from dbshift.dialects.scratch import Clone
from dbshift.errors import DbshiftError, UsageError


class Server:
    """Where the test databases are made: the plugin's URL (its database is where
    CREATE DATABASE runs, never one a test gets; a SQLite URL: a folder of files)."""

    def __init__(self, given: str, folder: Path) -> None:
        url = database.parse_url(Config(url=given))  # a ConfigError naming what is wrong
        self.backend = backend_for(url.get_backend_name())
        self.scratch = self.backend.scratch()
        if self.scratch.in_folder:  # SQLite: the files go to the session's folder
            url = url.set(database=str(folder / "server"))
        #: the URL as given (its driver is the one the tests' configurations use)
        self.given = url
        #: the same server through a synchronous driver (creating and dropping)
        self.admin = sync_url(url)
        #: every name this session makes starts with it (one session, one prefix)
        self.prefix = f"dbshift_{secrets.token_hex(4)}"
        self._count = 0

    def name(self, role: str) -> str:
        self._count += 1
        return f"{self.prefix}_{role}{self._count}"

    def url_of(self, name: str) -> str:
        """The URL of database `name`, with the given driver and its password."""
        return self.scratch.url_of(self.given, name).render_as_string(hide_password=False)

    def create(self, role: str = "empty") -> str:
        name = self.name(role)
        with self.translated():
            self.scratch.create(self.admin, name)
        return name

    def drop(self, name: str) -> None:
        with self.translated():
            self.scratch.drop(self.admin, name)

    def translated(self) -> database.translated:
        """A driver error on the server (unreachable, refused, no driver) as the one
        masked line a command gives, not a traceback into SQLAlchemy."""
        return database.translated(Config(url=self.given.render_as_string(hide_password=False)))


def sync_url(url: URL) -> URL:
    """`url` through a synchronous driver (the backend's `sync_driver` where the given
    one is async)."""
    if not database.is_async(url):
        return url
    backend = backend_for(url.get_backend_name())
    driver = f"+{backend.sync_driver}" if backend.sync_driver else ""
    return url.set(drivername=f"{url.get_backend_name()}{driver}")


def async_url(url: URL) -> URL:
    """`url` through an async driver (the backend's `async_driver` where the given one
    is synchronous); a UsageError where dbshift supports none."""
    if database.is_async(url):
        return url
    backend = backend_for(url.get_backend_name())
    if backend.async_driver is None:
        raise UsageError(
            f"no async driver for {url.get_backend_name()}",
            hint="give --dbshift-url with an async driver of your own, or use dbshift_engine",
        )
    return url.set(drivername=f"{url.get_backend_name()}+{backend.async_driver}")


class Template:
    """The project's migrations applied once, on a database the clones copy."""

    def __init__(self, server: Server, config: Config) -> None:
        self.server = server
        self.config = config
        self._name: str | None = None
        self._clone: Clone | None = None
        self._error: DbshiftError | None = None

    def _migrated(self) -> str:
        if self._error is not None:  # a broken project fails every test, migrated once
            raise self._error
        if self._name is None:
            name = self.server.create("template")
            self._name = name
            try:
                api.upgrade(self._on(name), "heads")
            except DbshiftError as error:
                self._error = error
                raise
            with self.server.translated():
                self._clone = self.server.scratch.cloner(self.server.admin, name)
        return self._name

    def redact(self, text: str) -> str:
        """`text` with the server's password masked."""
        return redact(text, self.server.given.render_as_string(hide_password=False))

    def _on(self, name: str) -> Config:
        return self.config.replace(url=self.server.url_of(name))

    @property
    def cloned(self) -> bool:
        """Whether each database is a copy of the template (else migrated from empty)."""
        self._migrated()
        return self._clone is not None

    def fresh(self) -> str:
        """A new database at head: its name."""
        self._migrated()
        if self._clone is None:
            name = self.server.create("test")
            try:
                api.upgrade(self._on(name), "heads")
            except DbshiftError:
                self.server.drop(name)
                raise
            return name
        name = self.server.name("test")
        try:
            with self.server.translated():
                self._clone(name)
        except BaseException:  # a clone that failed part-way is not left behind
            self.server.drop(name)
            raise
        return name

    def close(self) -> None:
        if self._name is not None:
            self.server.drop(self._name)
            self._name = None


class Databases:
    """One test's databases, dropped when it ends (`close`)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.made: list[str] = []

    def keep(self, name: str) -> str:
        self.made.append(name)
        return self.server.url_of(name)

    def empty(self) -> str:
        """The URL of a new empty database."""
        return self.keep(self.server.create())

    def close(self) -> None:
        errors: list[BaseException] = []
        for name in reversed(self.made):
            try:
                self.server.drop(name)
            except Exception as error:  # drop the rest, then report the first
                errors.append(error)
        self.made.clear()
        if errors:
            raise errors[0]


@contextlib.contextmanager
def engine_for(url: str) -> Iterator[sa.Engine]:
    """A synchronous engine on `url` without a pool (nothing stays open after a test)."""
    engine = sync_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def sync_engine(url: str) -> sa.Engine:
    """A synchronous engine on `url` without a pool, connecting as dbshift's own do
    (`Backend.prepare_engine`: PyMySQL without the CA bundle when no TLS is asked for)."""
    parsed = sync_url(sa.make_url(url))
    engine = sa.create_engine(parsed, poolclass=sa.NullPool)
    backend_for(parsed.get_backend_name()).prepare_engine(engine)
    return engine
