"""Connections: one engine per command, sync or async URLs, errors a user can read.

All dbshift code below the API works on a synchronous `sa.Connection`. Async URLs
(`postgresql+asyncpg://`, `sqlite+aiosqlite://`, `mysql+asyncmy://`) are driven through SQLAlchemy's
`AsyncConnection.run_sync`, so the same code runs on both.

An engine or connection handed over as `Config(url=...)` (`Config.bind`) is used as it
is: a command takes one connection from the engine's pool (or uses the connection
given) and never disposes of the engine; see `_borrowed` for what it changes on that
connection while it runs, and docs/api.md for the rule on transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Dialect

from dbshift.config import Config, mask_url
from dbshift.dialects import backend_for
from dbshift.errors import ConfigError, DatabaseError, DbshiftError, UsageError, mask_error

T = TypeVar("T")

#: execution option set by the runner while it holds the lock: on SQLite its
#: transactions then take the write lock at BEGIN, while reads stay unblocked
WRITER = "dbshift_writer"

_ASYNC_DRIVERS = frozenset({"asyncpg", "aiosqlite", "aiomysql", "asyncmy", "psycopg_async"})
_DRIVER_PACKAGES = {
    "postgresql": "dbshift[postgresql]",
    "mysql": "dbshift[mysql]",
    "mariadb": "dbshift[mysql]",
    "asyncpg": "dbshift[async]",
    "aiosqlite": "dbshift[async]",
    "asyncmy": "dbshift[async]",
}


def parse_url(config: Config) -> URL:
    if config.bind is not None:
        bound: URL = config.bind.engine.url
        return bound
    raw = config.require_url()
    try:
        url = sa.make_url(raw)
    except (exc.ArgumentError, ValueError):
        raise ConfigError(
            f"invalid database URL {mask_url(raw)!r}",
            hint="expected dialect+driver://user:password@host/database, e.g. sqlite:///app.db",
        ) from None
    _refuse_ambiguous_at(raw, url)
    try:
        url.get_dialect()
    except exc.NoSuchModuleError:
        raise _unknown_dialect(url) from None
    except ImportError as error:
        raise _missing_driver(url, error) from None
    return url


def _refuse_ambiguous_at(raw: str, url: URL) -> None:
    """Refuse a URL with more than one unencoded `@` before its host.

    SQLAlchemy ends the password at the first `@`, so `u:sec@hunter22@host` would reach
    the driver as password `sec` and host `hunter22@host`, and the driver's error would
    print the rest of the password. No server has `@` in a host name or needs it raw in
    a user name, so such a URL is a password that wanted `%40`."""
    if "@" in (url.host or "") or "@" in (url.username or ""):
        raise ConfigError(
            f"ambiguous database URL {mask_url(raw)!r}: more than one '@' before the host",
            hint="percent-encode each '@' in the user name or password as %40",
        )


def _unknown_dialect(url: URL) -> ConfigError:
    """A URL whose dialect or driver SQLAlchemy has no plugin for."""
    try:
        sa.make_url(f"{url.get_backend_name()}://").get_dialect()
    except exc.NoSuchModuleError:
        return ConfigError(
            f"unknown database dialect {url.get_backend_name()!r} in URL {mask_url(str(url))!r}",
            hint="use sqlite, postgresql, mysql or mariadb, e.g. postgresql+psycopg://...",
        )
    return ConfigError(
        f"unknown database driver {url.drivername!r}",
        hint=f"use a driver SQLAlchemy knows for {url.get_backend_name()}, "
        "e.g. postgresql+psycopg or mysql+pymysql",
    )


def is_async(url: URL) -> bool:
    return url.get_driver_name() in _ASYNC_DRIVERS


def is_async_config(config: Config) -> bool:
    """Whether commands on `config` run on an async driver: its URL's driver, or the kind
    of engine or connection handed over (an `AsyncEngine` on `postgresql+psycopg://` is
    async whatever its URL says)."""
    if config.bind is not None:
        return not isinstance(config.bind, sa.Engine | sa.Connection)
    return is_async(parse_url(config))


def offline_dialect(config: Config, name: str | None = None) -> sa.engine.Dialect:
    """A dialect for rendering SQL without connecting (from `name` or the URL)."""
    if name is None:
        dialect_cls = parse_url(config).get_dialect()
    else:
        try:
            dialect_cls = sa.make_url(f"{name}://").get_dialect()
        except exc.NoSuchModuleError:
            raise ConfigError(
                f"unknown dialect {name!r}", hint="use sqlite, postgresql or mysql"
            ) from None
    dialect: sa.engine.Dialect = dialect_cls()
    return dialect


def create_engine(config: Config, url: URL | None = None) -> Any:
    """An engine (sync or async) with no pool: a command uses one connection."""
    url = url or parse_url(config)
    kwargs: dict[str, Any] = {"poolclass": sa.NullPool}
    backend = backend_for(url.get_backend_name())
    if backend.write_lock_wait_argument is not None:
        kwargs["connect_args"] = {backend.write_lock_wait_argument: config.runner_lock_timeout}
    elif url.get_driver_name() in ("psycopg", "psycopg_async"):
        # No server-side prepared statements: behind PgBouncer in transaction pooling
        # mode the next statement may reach a server connection that never saw them.
        kwargs["connect_args"] = {"prepare_threshold": None}
    try:
        if is_async(url):
            # lazy: only an async URL needs SQLAlchemy's asyncio extension
            from sqlalchemy.ext.asyncio import create_async_engine

            engine: Any = create_async_engine(url, **kwargs)
            sync_engine = engine.sync_engine
        else:
            engine = sync_engine = sa.create_engine(url, **kwargs)
    except (exc.NoSuchModuleError, ModuleNotFoundError, ImportError) as error:
        raise _missing_driver(url, error) from None
    except exc.ArgumentError as error:
        raise ConfigError(
            f"invalid database URL {mask_url(str(url))!r}: {error}",
            hint="write it as dialect+driver://user:password@host:port/database",
        ) from None
    if backend.begins_own_transactions:
        _sqlite_transactional_ddl(sync_engine)
    backend.prepare_engine(sync_engine)
    on_begin = _search_path(config, sync_engine.dialect)
    if on_begin is not None:
        event.listen(sync_engine, "begin", on_begin)
    return engine


def _search_path(config: Config, dialect: Dialect) -> Callable[[sa.Connection], None] | None:
    """What puts `Config.search_path` (a fleet's tenant schema, docs/fleet.md) first on
    the path of a connection's work: a `begin` listener that sets it in every
    transaction, for that transaction alone (`SET LOCAL`). Nothing lives in the
    session, so behind a transaction-pooling PgBouncer, where each transaction may run
    on another server connection, the path still holds, and no other client inherits
    it. In autocommit mode (a statement that cannot run in a transaction, e.g. `CREATE
    INDEX CONCURRENTLY`) there is no transaction to carry it: the path is set for the
    session, right before. None without a search path."""
    if not config.search_path:
        return None
    backend = backend_for(dialect.name)
    local = backend.search_path_statement(dialect, config.search_path, local=True)
    session = backend.search_path_statement(dialect, config.search_path)
    if local is None or session is None:
        raise ConfigError(
            f"a search_path is set, but {dialect.name} has none",
            hint="search_path (a fleet's `schemas`) is for PostgreSQL; target databases instead",
        )

    def begin(conn: sa.Connection) -> None:
        dbapi_connection: Any = conn.connection.dbapi_connection
        autocommit = dialect.detect_autocommit_setting(dbapi_connection)
        conn.exec_driver_sql(
            session if autocommit else local, execution_options={"no_parameters": True}
        )

    return begin


def _missing_driver(url: URL, error: BaseException) -> ConfigError:
    driver = url.get_driver_name()
    package = _DRIVER_PACKAGES.get(driver) or _DRIVER_PACKAGES.get(url.get_backend_name())
    return ConfigError(
        f"database driver {url.drivername!r} is not available ({error})",
        hint=f"pip install '{package}'" if package else "install the driver package",
    )


def _sqlite_transactional_ddl(engine: sa.Engine) -> None:
    """Make SQLite DDL transactional and take the write lock at BEGIN.

    Python's sqlite3 module leaves DDL outside transactions; with its own transaction
    handling off, we emit BEGIN ourselves (BEGIN IMMEDIATE for the runner's writes), so
    a migration and its history row commit together and concurrent runners queue on
    the database's write lock."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    event.listen(engine, "begin", _begin_sqlite)


def _begin_sqlite(conn: sa.Connection) -> None:
    """SQLite's BEGIN, sent by us (see `_sqlite_transactional_ddl`)."""
    options = conn.get_execution_options()
    if options.get("isolation_level") != "AUTOCOMMIT":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITER) else "BEGIN")


def run(config: Config, fn: Callable[[sa.Connection], T]) -> T:
    """Call `fn` with a connection to the configured database, and close it."""
    bind = config.bind
    if isinstance(bind, sa.Engine | sa.Connection):
        return _run_bound(config, bind, fn)
    if bind is not None:
        raise UsageError(
            f"an async {type(bind).__name__} cannot be used by the synchronous API",
            hint="use `await dbshift.aio.<command>(...)`, or hand over a sync Engine",
        )
    url = parse_url(config)
    if is_async(url):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(run_async(config, fn))
        raise DbshiftError(
            "an async database URL cannot be used from a running event loop synchronously",
            hint="use `await dbshift.aio.<command>(...)` instead",
        )
    engine = create_engine(config, url)
    try:
        with translated(config), engine.connect() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def run_aside(config: Config, fn: Callable[[sa.Connection], T]) -> T:
    """`run` on a connection of its own, beside the one a command works on (the lease's
    heartbeat, a lock wait's blocker report), from another thread: a handed-over engine
    or connection is not shared with it; a short-lived engine on the same URL is made
    (so a `sqlite://` in-memory database is not reached: docs/api.md)."""
    if config.bind is None:
        return run(config, fn)
    return run(config.replace(url=config.url_text), fn)


async def run_async(config: Config, fn: Callable[[sa.Connection], T]) -> T:
    """Like `run`, on an async URL: `fn` still receives a synchronous connection."""
    bind = config.bind
    if bind is not None:
        return await _run_bound_async(config, bind, fn)
    engine = create_engine(config)
    try:
        with translated(config):
            async with engine.connect() as conn:
                result: T = await conn.run_sync(fn)
                return result
    finally:
        await engine.dispose()


def _run_bound(
    config: Config, bind: sa.Engine | sa.Connection, fn: Callable[[sa.Connection], T]
) -> T:
    """`run` on a handed-over sync engine (one connection from its pool, given back) or
    connection (used as it is)."""
    with translated(config):
        if isinstance(bind, sa.Engine):
            with bind.connect() as conn, _borrowed(conn, config):
                return fn(conn)
        _refuse_in_transaction(bind.in_transaction())
        with _borrowed(bind, config):
            return fn(bind)


async def _run_bound_async(config: Config, bind: Any, fn: Callable[[sa.Connection], T]) -> T:
    """`run_async` on a handed-over `AsyncEngine` or `AsyncConnection`."""

    def borrowing(conn: sa.Connection) -> T:
        with _borrowed(conn, config):
            return fn(conn)

    with translated(config):
        if isinstance(bind, sa.Engine | sa.Connection):
            return await asyncio.to_thread(_run_bound, config, bind, fn)
        # lazy: only a handed-over async engine needs SQLAlchemy's asyncio extension
        from sqlalchemy.ext.asyncio import AsyncEngine

        if isinstance(bind, AsyncEngine):
            async with bind.connect() as conn:
                result: T = await conn.run_sync(borrowing)
                return result
        _refuse_in_transaction(bind.in_transaction())
        done: T = await bind.run_sync(borrowing)
        return done


def _refuse_in_transaction(in_transaction: bool) -> None:
    """A handed-over connection must be outside a transaction: dbshift begins and
    commits its own, one per migration, and would otherwise commit the caller's work."""
    if in_transaction:
        raise UsageError(
            "the connection handed to dbshift is inside a transaction: dbshift commits "
            "each migration itself, and would commit that transaction's work too",
            hint="commit or roll back first (conn.commit()), or hand over the engine",
        )


@contextlib.contextmanager
def _borrowed(conn: sa.Connection, config: Config) -> Iterator[None]:
    """A handed-over connection while a command uses it: with `Config.search_path`
    set, the same path in every transaction as on dbshift's own engines
    (`_search_path`); on a backend whose driver leaves DDL outside transactions
    (SQLite), the same transactional DDL and write lock at BEGIN
    (`_sqlite_transactional_ddl`); both undone afterwards. Whatever the command left
    uncommitted is rolled back, as closing its own connection would, so the connection
    is handed back outside a transaction."""
    on_begin = _search_path(config, conn.dialect)
    if on_begin is not None:
        event.listen(conn, "begin", on_begin)
    try:
        with _sqlite_begin(conn):
            yield
    finally:
        if on_begin is not None:
            event.remove(conn, "begin", on_begin)


@contextlib.contextmanager
def _sqlite_begin(conn: sa.Connection) -> Iterator[None]:
    """`_borrowed`'s part on a backend that begins its own transactions (SQLite)."""
    backend = backend_for(conn.dialect.name)
    if not backend.begins_own_transactions:
        try:
            yield
        finally:
            _rollback(conn)
        return
    _rollback(conn)  # the driver's isolation level changes only outside a transaction
    dbapi_connection: Any = conn.connection.dbapi_connection
    before = dbapi_connection.isolation_level
    dbapi_connection.isolation_level = None
    event.listen(conn, "begin", _begin_sqlite)
    try:
        yield
    finally:
        event.remove(conn, "begin", _begin_sqlite)
        _rollback(conn)
        if not conn.invalidated and not conn.closed:
            conn.connection.dbapi_connection.isolation_level = before  # type: ignore[union-attr]


def _rollback(conn: sa.Connection) -> None:
    if not conn.closed and conn.in_transaction():
        conn.rollback()


class translated:
    """Turn driver errors that escape a command into one-line `DatabaseError`s (also
    around the pytest plugin's server work, `dbshift.testing`)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        if isinstance(error, DbshiftError):  # a migration's own message may hold the URL
            mask_error(error, self.config.redact)
            return
        if isinstance(error, exc.DBAPIError):
            raise database_error(self.config, error) from error
        if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)):
            # async drivers (asyncpg) let the socket's own errors through unwrapped
            raise DatabaseError(
                self.config.redact(f"cannot connect to {mask_url(self.config.url_text)}: {error}"),
                hint="check that the server is running and the URL's host and port",
            ) from error
        if isinstance(error, (ModuleNotFoundError, ImportError)) and not isinstance(
            error, DbshiftError
        ):
            raise _missing_driver(parse_url(self.config), error) from error


def database_error(config: Config, error: exc.DBAPIError) -> DatabaseError:
    message = driver_message(error)
    where = mask_url(config.url_text)
    if error.connection_invalidated or isinstance(error, exc.OperationalError):
        return DatabaseError(
            config.redact(f"database error on {where}: {message}"),
            hint="check that the server is running and the URL, user and password are right",
        )
    return DatabaseError(
        config.redact(f"database error on {where}: {message}"),
        hint="check the URL, and the user's privileges on the database",
    )


def driver_message(error: BaseException) -> str:
    """The database's own message, first line, without SQLAlchemy's decoration."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    if len(args) == 2 and isinstance(args[0], int):  # PyMySQL: (code, message)
        text = f"({args[0]}) {args[1]}"
    return text.splitlines()[0] if text else type(original).__name__
