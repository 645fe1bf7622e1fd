"""PostgreSQL's runner lock: a transaction advisory lock (see `dbshift.dialects.locking`)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.compiler import Compiled

from dbshift.dialects.locking import DatabaseLock


class PostgresLock(DatabaseLock):
    exclusive = False

    def __init__(self, name: str) -> None:
        super().__init__(name)
        digest = hashlib.sha256(name.encode()).digest()
        # Two 31-bit keys: pg_locks shows them as classid/objid with objsubid = 2.
        self.keys = (
            int.from_bytes(digest[:4], "big") & 0x7FFFFFFF,
            int.from_bytes(digest[4:8], "big") & 0x7FFFFFFF,
        )
        self._reads: dict[sa.Select[Any], tuple[str, Compiled]] = {}

    # One round trip; the holder names itself in pg_stat_activity for the rest of its
    # transaction (set_config(..., true) is SET LOCAL: nothing outlives it).
    GUARD = sa.text(
        "SELECT CASE WHEN pg_try_advisory_xact_lock(:a, :b) "
        "THEN set_config('application_name', :me, true) IS NOT NULL ELSE false END"
    )

    def guard(self, conn: sa.Connection, me: str) -> bool:
        """Sent once per migration: as the driver's own SQL (`GUARD` compiled once for
        the connection's dialect), which skips SQLAlchemy's per-call cache lookup and
        parameter processing; the statement the server gets is the same."""
        return bool(conn.exec_driver_sql(*self._guard_sql(conn.dialect, me)).scalar())

    def _guard_sql(self, dialect: sa.Dialect, me: str) -> tuple[str, Any]:
        """`GUARD` as the driver takes it: its text and its parameters."""
        sql, order = _driver_form(dialect)
        params = {"a": self.keys[0], "b": self.keys[1], "me": me}
        return sql, tuple(params[name] for name in order) if order is not None else params

    def guard_and_read(
        self, conn: sa.Connection, me: str, query: sa.Select[Any], params: dict[str, Any]
    ) -> Mapping[Any, Any] | None:
        """With psycopg (sync) at the start of a transaction: the lock and the read in
        one round trip (psycopg's pipeline mode; psycopg still waits for its BEGIN on
        its own). The server runs them one after the other, the read with a snapshot of
        its own taken after the lock, so the guarantee is the base's; what goes is one
        wait for the server per migration. A failure in the pipeline undoes the
        transaction it began, and the two statements are sent again the base's way, so
        that the error is SQLAlchemy's (wrapped, the connection invalidated when it is
        lost) as anywhere else."""
        driver = _pipelining(conn)
        if driver is None:
            return super().guard_and_read(conn, me, query, params)
        # lazy: only with the psycopg driver, which has imported it already
        import psycopg

        guard_sql, bound = self._guard_sql(conn.dialect, me)
        read_sql, compiled = self._compiled(query, conn.dialect)
        try:
            with driver.pipeline():
                guard, read = driver.cursor(), driver.cursor()
                guard.execute(guard_sql, bound)
                read.execute(read_sql, compiled.construct_params(params))
            taken = guard.fetchone()
            row = read.fetchone()
            names = [column.name for column in read.description or ()]
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                driver.rollback()
            return super().guard_and_read(conn, me, query, params)
        if taken is None or not taken[0]:
            return None
        assert row is not None, "the read returns one row"
        return dict(zip(names, row, strict=True))

    def _compiled(self, query: sa.Select[Any], dialect: sa.Dialect) -> tuple[str, Compiled]:
        """`query` compiled for the driver, once per query (the runner builds one)."""
        found = self._reads.get(query)
        if found is None:
            compiled = query.compile(dialect=dialect)
            found = self._reads[query] = (compiled.string, compiled)
        return found

    def holder(self, conn: sa.Connection, name: Callable[[str], str] | None = None) -> str:
        row = conn.execute(
            sa.text(
                "SELECT a.application_name, a.pid, COALESCE(host(a.client_addr), 'local'), "
                "a.xact_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :a "
                "AND l.objid = :b AND l.objsubid = 2"
            ),
            {"a": self.keys[0], "b": self.keys[1]},
        ).first()
        conn.rollback()
        if row is None:
            return ""
        name, pid, client, since = row
        who = f"{name}, " if name else ""
        when = f", since {since:%Y-%m-%d %H:%M:%S %Z}" if since is not None else ""
        return f" ({who}server pid {pid}, client {client}{when})"


def _pipelining(conn: sa.Connection) -> Any:
    """The psycopg connection under `conn` when it can pipeline (the sync driver, a
    libpq with pipeline mode) and no transaction is open on it yet; else None."""
    if conn.dialect.driver != "psycopg":
        return None
    # lazy: as above
    import psycopg

    driver = conn.connection.driver_connection
    if not psycopg.Pipeline.is_supported() or not isinstance(driver, psycopg.Connection):
        return None
    if driver.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return None
    return driver


_DRIVER_FORMS: dict[tuple[type[sa.Dialect], str], tuple[str, tuple[str, ...] | None]] = {}


def _driver_form(dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None]:
    """`PostgresLock.GUARD` in the driver's parameter style, and the order of its
    parameters for a positional style (None for a named one)."""
    key = (type(dialect), dialect.paramstyle)
    found = _DRIVER_FORMS.get(key)
    if found is None:
        compiled = PostgresLock.GUARD.compile(dialect=dialect)
        order = (
            tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        )
        found = _DRIVER_FORMS[key] = (compiled.string, order)
    return found
