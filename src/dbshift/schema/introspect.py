"""A live schema as a `Snapshot`, read with a fixed number of bulk catalog queries.

Per-table reflection costs a round trip or more per table; on a schema of a thousand
tables that is seconds. Here each backend reads every table at once
(`Backend.read_tables`): PostgreSQL through catalog queries of its own
(`dialects/postgresql/introspect.py`), MariaDB/MySQL through `information_schema`
(`dialects/mysql/introspect.py`), SQLite through its table-valued pragmas joined with
`sqlite_master` (`dialects/sqlite/introspect.py`); other dialects through SQLAlchemy's
bulk `get_multi_*` inspector methods (`dialects/inspector.py`). This module is
the backend-neutral entry point. The result equals what per-table SQLAlchemy reflection
gives, normalized as `reflect.py` does, plus what that reflection drops (index options,
deferrable keys, SQLite expression indexes).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import sqlalchemy as sa

from dbshift.dialects import backend_for
from dbshift.schema.snapshot import Snapshot, Table


def introspect(
    conn: sa.Connection,
    schema: str | None = None,
    *,
    tables: Collection[str] | None = None,
    exclude: Callable[[str], bool] | None = None,
) -> Snapshot:
    """The tables of `schema` (None: the connection's default), its PostgreSQL enums and
    its explicit sequences (PostgreSQL, MariaDB). `tables` limits the tables read;
    `exclude(name)` skips a table (bookkeeping tables, say)."""
    found = read_tables(conn, schema, tables=tables, exclude=exclude)
    backend = backend_for(conn.dialect)
    enums = backend.read_enums(conn, schema)
    return Snapshot.of(found, enums, backend.read_sequences(conn, schema))


def read_tables(
    conn: sa.Connection,
    schema: str | None = None,
    *,
    tables: Collection[str] | None = None,
    exclude: Callable[[str], bool] | None = None,
) -> list[Table]:
    """Just the tables of `introspect`: what an operation needs to restate one table."""
    wanted = None if tables is None else set(tables)

    def keep(table: str) -> bool:
        return (wanted is None or table in wanted) and not (exclude and exclude(table))

    found = backend_for(conn.dialect).read_tables(conn, schema, keep, wanted)
    return [_canonical(t) for t in sorted(found, key=lambda t: t.name)]


def _canonical(table: Table) -> Table:
    """Keys, indexes and constraints in name order: catalogs list them in no stable order."""

    def by_name(item: Any) -> tuple[bool, str, tuple[str, ...]]:
        return (item.name is None, item.name or "", item.columns)

    ordered = {
        "indexes": tuple(sorted(table.indexes, key=by_name)),
        "foreign_keys": tuple(sorted(table.foreign_keys, key=by_name)),
        "uniques": tuple(sorted(table.uniques, key=by_name)),
        "checks": tuple(
            sorted(table.checks, key=lambda c: (c.name is None, c.name or "", c.sqltext))
        ),
    }
    if all(getattr(table, field) == items for field, items in ordered.items()):
        return table  # in order already (most tables): no copy
    return table.replace(**ordered)
