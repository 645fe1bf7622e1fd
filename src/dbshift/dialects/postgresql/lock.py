"""PostgreSQL's runner lock: a transaction advisory lock (see `dbshift.dialects.locking`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

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
        sql, order = _driver_form(conn.dialect)
        params = {"a": self.keys[0], "b": self.keys[1], "me": me}
        bound: Any = tuple(params[name] for name in order) if order is not None else params
        return bool(conn.exec_driver_sql(sql, bound).scalar())

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
