"""PostgreSQL's scratch databases: a clone is `CREATE DATABASE ... TEMPLATE`, a copy of
the template's files (no statement of its migrations runs again); a drop ends the
connections still open to it (`WITH (FORCE)`, PostgreSQL 13 and later)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import URL

from dbshift.dialects.scratch import Clone, Scratch, quoted


class PostgreSQLScratch(Scratch):
    def drop(self, server: URL, name: str) -> None:
        with self.admin(server) as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted(conn, name)} WITH (FORCE)"))

    def cloner(self, server: URL, template: str) -> Clone:
        def clone(name: str) -> URL:
            with self.admin(server) as conn:
                conn.execute(
                    sa.text(
                        f"CREATE DATABASE {quoted(conn, name)} TEMPLATE {quoted(conn, template)}"
                    )
                )
            return self.url_of(server, name)

        return clone
