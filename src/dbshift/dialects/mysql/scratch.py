"""MariaDB/MySQL's scratch databases. The server has no template databases, so a clone
copies one: the template is read once (each table's `SHOW CREATE TABLE`, the columns
its rows are copied by, which tables hold rows), then each clone is one connection
sending those statements into a new database with the template's character set,
foreign keys unchecked while the tables appear, and `INSERT ... SELECT` for the rows
(the bookkeeping tables' among them). That is one statement per table, against
several per migration for a migration run; `bench/pytest_clone.py` measures both.

A template holding what `SHOW CREATE TABLE` does not copy as it is (views, triggers,
routines, events, sequences, system-versioned tables: their text names the template's
database, or their rows are not plain rows) is not cloned: `cloner` says None and each
database is migrated from empty.
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy.engine import URL

from dbshift.dialects.scratch import Clone, Scratch, quoted

#: what a template may not hold to be cloned (each a count query on its schema)
_UNCOPIED = (
    "SELECT COUNT(*) FROM information_schema.views WHERE table_schema = :db",
    "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = :db",
    "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = :db",
    "SELECT COUNT(*) FROM information_schema.events WHERE event_schema = :db",
    # sequences and views; system-versioned tables, whose history rows INSERT cannot copy
    "SELECT COUNT(*) FROM information_schema.tables"
    " WHERE table_schema = :db AND table_type <> 'BASE TABLE'",
)


@dataclasses.dataclass(frozen=True)
class _Table:
    name: str
    create: str
    #: the columns a row is copied by (generated ones are computed again), None: no rows
    copied: tuple[str, ...] | None


class MySQLScratch(Scratch):
    def cloner(self, server: URL, template: str) -> Clone | None:
        with self.admin(server) as conn:
            given = {"db": template}
            if any(conn.execute(sa.text(sql), given).scalar() for sql in _UNCOPIED):
                return None
            charset, collation = conn.execute(
                sa.text(
                    "SELECT default_character_set_name, default_collation_name"
                    " FROM information_schema.schemata WHERE schema_name = :db"
                ),
                given,
            ).one()
            tables = _read_tables(conn, template)
        options = f" CHARACTER SET {charset} COLLATE {collation}"

        def clone(name: str) -> URL:
            with self.admin(server) as conn:
                new, source = quoted(conn, name), quoted(conn, template)
                _send(conn, f"CREATE DATABASE {new}{options}")
                _send(conn, f"USE {new}")
                _send(conn, "SET SESSION foreign_key_checks = 0")
                for table in tables:
                    _send(conn, table.create)
                for table in tables:
                    if table.copied is None:
                        continue
                    columns = ", ".join(quoted(conn, c) for c in table.copied)
                    name_ = quoted(conn, table.name)
                    _send(
                        conn,
                        f"INSERT INTO {new}.{name_} ({columns})"
                        f" SELECT {columns} FROM {source}.{name_}",
                    )
            return self.url_of(server, name)

        return clone


def _read_tables(conn: sa.Connection, template: str) -> list[_Table]:
    given = {"db": template}
    names = conn.execute(
        sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :db"
            " ORDER BY table_name"
        ),
        given,
    ).scalars()
    columns: dict[str, list[str]] = {}
    for table, column in conn.execute(
        sa.text(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = :db AND generation_expression IS NULL"
            " OR table_schema = :db AND generation_expression = ''"
            " ORDER BY table_name, ordinal_position"
        ),
        given,
    ):
        columns.setdefault(table, []).append(column)
    found = []
    source = quoted(conn, template)
    for name in list(names):
        table = f"{source}.{quoted(conn, name)}"
        create = conn.exec_driver_sql(
            f"SHOW CREATE TABLE {table}", execution_options={"no_parameters": True}
        ).one()[1]
        rows = conn.exec_driver_sql(
            f"SELECT 1 FROM {table} LIMIT 1", execution_options={"no_parameters": True}
        ).first()
        found.append(_Table(name, create, tuple(columns[name]) if rows else None))
    return found


def _send(conn: sa.Connection, sql: str) -> None:
    """One statement as written (no parameters: `%` and `:name` in its text stay)."""
    conn.exec_driver_sql(sql, execution_options={"no_parameters": True})
