"""MySQL/MariaDB's runner lock: `GET_LOCK`, held for the whole run (see
`dbshift.dialects.locking`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import sqlalchemy as sa

from dbshift.dialects.locking import DatabaseLock


class MySQLLock(DatabaseLock):
    exclusive = True

    def __init__(self, name: str) -> None:
        # GET_LOCK names are limited to 64 characters.
        super().__init__(name if len(name) <= 64 else hashlib.sha256(name.encode()).hexdigest())

    def acquire(
        self, conn: sa.Connection, timeout: float, name: Callable[[str], str] | None = None
    ) -> None:
        query = sa.text("SELECT GET_LOCK(:name, 0)")
        got = lambda: conn.execute(query, {"name": self.name}).scalar() == 1  # noqa: E731
        self._wait(conn, timeout, got, name)

    def session(self, conn: sa.Connection) -> str | None:
        return str(conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar())

    def release(self, conn: sa.Connection) -> None:
        conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": self.name})
        conn.commit()

    def holder(self, conn: sa.Connection, name: Callable[[str], str] | None = None) -> str:
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
        runner = name(str(row[0])) if name is not None else ""
        runner = f"{runner}, " if runner else ""
        return f" ({runner}connection {row[0]}, host {row[1]}, for {row[2]} s)"
