"""One runner at a time per database.

PostgreSQL: a session advisory lock; MySQL/MariaDB: `GET_LOCK`. Both belong to the
connection, so the server frees them when a killed runner's connection drops. SQLite
has no session locks: each migration runs in a `BEGIN IMMEDIATE` transaction (see
`database.py`), which holds the database's write lock, and the runner re-checks the
history inside that transaction, so a migration is applied exactly once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import sqlalchemy as sa

from dbshift.errors import LockTimeout


class DatabaseLock:
    """Acquire/release the runner lock on a connection; a no-op base (SQLite)."""

    #: True when holding the lock keeps every other runner out for the whole run;
    #: otherwise each migration must re-read the history inside its transaction
    exclusive = False

    def __init__(self, name: str) -> None:
        self.name = name

    def acquire(self, conn: sa.Connection, timeout: float) -> None:
        return None

    def release(self, conn: sa.Connection) -> None:
        return None

    def _wait(self, conn: sa.Connection, timeout: float, attempt: Callable[[], bool]) -> None:
        """Poll `attempt` with a growing pause until it succeeds or `timeout` passes."""
        deadline = time.monotonic() + timeout
        pause = 0.02
        while True:
            got = attempt()
            if conn.in_transaction():
                conn.commit()  # never hold a snapshot open while waiting
            if got:
                return
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"the migration lock is held by another runner{self.holder(conn)}; "
                    f"gave up after {timeout:g} s",
                    hint="wait for the other run to finish, or raise --lock-timeout",
                )
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.5)

    def holder(self, conn: sa.Connection) -> str:
        """`(pid …, host …, since …)` of the lock holder where the database tells."""
        return ""


class PostgresLock(DatabaseLock):
    exclusive = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        digest = hashlib.sha256(name.encode()).digest()
        # Two 31-bit keys: pg_locks shows them as classid/objid with objsubid = 2.
        self.keys = (
            int.from_bytes(digest[:4], "big") & 0x7FFFFFFF,
            int.from_bytes(digest[4:8], "big") & 0x7FFFFFFF,
        )

    def acquire(self, conn: sa.Connection, timeout: float) -> None:
        query = sa.text("SELECT pg_try_advisory_lock(:a, :b)")
        params = {"a": self.keys[0], "b": self.keys[1]}
        self._wait(conn, timeout, lambda: bool(conn.execute(query, params).scalar()))

    def release(self, conn: sa.Connection) -> None:
        conn.execute(
            sa.text("SELECT pg_advisory_unlock(:a, :b)"), {"a": self.keys[0], "b": self.keys[1]}
        )
        conn.commit()

    def holder(self, conn: sa.Connection) -> str:
        row = conn.execute(
            sa.text(
                "SELECT a.pid, COALESCE(host(a.client_addr), 'local'), a.backend_start "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :a "
                "AND l.objid = :b AND l.objsubid = 2"
            ),
            {"a": self.keys[0], "b": self.keys[1]},
        ).first()
        conn.rollback()
        if row is None:
            return ""
        return f" (pid {row[0]}, host {row[1]}, since {row[2]:%Y-%m-%d %H:%M:%S %Z})"


class MySQLLock(DatabaseLock):
    exclusive = True

    def __init__(self, name: str) -> None:
        # GET_LOCK names are limited to 64 characters.
        super().__init__(name if len(name) <= 64 else hashlib.sha256(name.encode()).hexdigest())

    def acquire(self, conn: sa.Connection, timeout: float) -> None:
        query = sa.text("SELECT GET_LOCK(:name, 0)")
        self._wait(conn, timeout, lambda: conn.execute(query, {"name": self.name}).scalar() == 1)

    def release(self, conn: sa.Connection) -> None:
        conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": self.name})
        conn.commit()

    def holder(self, conn: sa.Connection) -> str:
        row = conn.execute(
            sa.text(
                "SELECT p.id, p.host, p.time FROM information_schema.processlist p "
                "WHERE p.id = IS_USED_LOCK(:name)"
            ),
            {"name": self.name},
        ).first()
        conn.rollback()
        if row is None:
            return ""
        return f" (connection {row[0]}, host {row[1]}, for {row[2]} s)"


def lock_for(conn: sa.Connection, prefix: str, schema: str | None) -> DatabaseLock:
    backend = conn.dialect.name
    database = conn.engine.url.database or ""
    name = f"dbshift:{database}:{schema or ''}:{prefix}"
    if backend == "postgresql":
        return PostgresLock(name)
    if backend in ("mysql", "mariadb"):
        return MySQLLock(name)
    return DatabaseLock(name)
