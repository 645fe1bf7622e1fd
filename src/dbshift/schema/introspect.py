"""A live schema as a `Snapshot`, read with a fixed number of bulk catalog queries.

Per-table reflection costs a round trip or more per table; on a schema of a thousand
tables that is seconds. Here each backend reads every table at once: PostgreSQL through
catalog queries of its own (`introspect_postgresql.py`), MariaDB/MySQL through
`information_schema` (`introspect_mysql.py`), SQLite through its table-valued pragmas
joined with `sqlite_master` (`introspect_sqlite.py`); other dialects through SQLAlchemy's
bulk `get_multi_*` inspector methods. This module dispatches and holds what they share.
The result equals what per-table SQLAlchemy reflection gives, normalized as `reflect.py`
does, plus what that reflection drops (index options, deferrable keys, SQLite expression
indexes).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import sqlalchemy as sa

from dbshift.schema.introspect_common import Keep
from dbshift.schema.snapshot import (
    Check,
    Column,
    ForeignKey,
    Index,
    PrimaryKey,
    Snapshot,
    Table,
    Unique,
)


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
    name = conn.dialect.name
    if name == "postgresql":
        from dbshift.schema import introspect_postgresql as pg

        return Snapshot.of(found, pg.pg_enums(conn, schema), pg.pg_sequences(conn, schema))
    if name in ("mysql", "mariadb"):
        from dbshift.schema.introspect_mysql import mysql_sequences

        return Snapshot.of(found, (), mysql_sequences(conn, schema))
    return Snapshot.of(found)


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

    name = conn.dialect.name
    if name in ("mysql", "mariadb"):
        from dbshift.schema.introspect_mysql import mysql_tables

        found = mysql_tables(conn, schema, keep, wanted)
    elif name == "sqlite":
        from dbshift.schema.introspect_sqlite import sqlite_tables

        found = sqlite_tables(conn, schema, keep, wanted)
    elif name == "postgresql":
        from dbshift.schema.introspect_postgresql import pg_tables

        found = pg_tables(conn, schema, keep, wanted)
    else:  # any other dialect, through SQLAlchemy's bulk inspector methods
        found = _inspected_tables(conn, schema, keep, wanted)
    return [_canonical(t) for t in sorted(found, key=lambda t: t.name)]


def _canonical(table: Table) -> Table:
    """Keys, indexes and constraints in name order: catalogs list them in no stable order."""

    def by_name(item: Any) -> tuple[bool, str, tuple[str, ...]]:
        return (item.name is None, item.name or "", item.columns)

    return table.replace(
        indexes=tuple(sorted(table.indexes, key=by_name)),
        foreign_keys=tuple(sorted(table.foreign_keys, key=by_name)),
        uniques=tuple(sorted(table.uniques, key=by_name)),
        checks=tuple(sorted(table.checks, key=lambda c: (c.name is None, c.name or "", c.sqltext))),
    )


# --- other dialects: SQLAlchemy's bulk inspector ---------------------------------------


def _inspected_tables(
    conn: sa.Connection, schema: str | None, keep: Keep, wanted: set[str] | None
) -> list[Table]:
    """Tables from the inspector's `get_multi_*` methods, each one query (or a few) for
    all tables on PostgreSQL; `wanted` narrows the catalog queries themselves."""
    inspector = sa.inspect(conn)
    kw: dict[str, Any] = {"schema": schema}
    if wanted is not None:
        kw["filter_names"] = sorted(wanted)
    columns = inspector.get_multi_columns(**kw)
    keys = [key for key in columns if keep(key[1])]
    if not keys:
        return []
    pks = inspector.get_multi_pk_constraint(**kw)
    uniques = inspector.get_multi_unique_constraints(**kw)
    indexes = inspector.get_multi_indexes(**kw)
    fks = inspector.get_multi_foreign_keys(**kw)
    checks = inspector.get_multi_check_constraints(**kw)
    comments: Mapping[Any, Any]
    try:
        comments = inspector.get_multi_table_comment(**kw)
    except NotImplementedError:
        comments = {}
    found = []
    for key in keys:
        unique_list = [
            Unique(u.get("name"), tuple(u["column_names"])) for u in uniques.get(key, ())
        ]
        unique_names = {u.name for u in unique_list}
        pk: Mapping[str, Any] = pks.get(key) or {}
        pk_columns = tuple(pk.get("constrained_columns") or ())
        found.append(
            Table(
                name=key[1],
                columns=tuple(_column(c) for c in columns[key]),
                schema=schema,
                primary_key=PrimaryKey(pk_columns, pk.get("name")) if pk_columns else None,
                indexes=tuple(
                    _index(ix)
                    for ix in indexes.get(key, ())
                    if ix["name"] not in unique_names and not ix.get("duplicates_constraint")
                ),
                foreign_keys=tuple(_foreign_key(fk, schema) for fk in fks.get(key, ())),
                uniques=tuple(unique_list),
                checks=tuple(Check(c.get("name"), c["sqltext"]) for c in checks.get(key, ())),
                comment=(comments.get(key) or {}).get("text"),
            )
        )
    return found


def _column(info: Mapping[str, Any]) -> Column:
    """A column as SQLAlchemy reflects it."""
    computed = info.get("computed")
    identity = info.get("identity")
    return Column(
        name=info["name"],
        type=info["type"],
        nullable=bool(info["nullable"]),
        server_default=info.get("default") if not computed else None,
        autoincrement=info.get("autoincrement", "auto"),
        comment=info.get("comment"),
        computed=computed["sqltext"] if computed else None,
        identity=(
            (
                ("always", bool(identity["always"])),
                ("increment", identity["increment"]),
                ("start", identity["start"]),
            )
            if identity
            else None
        ),
    )


#: index options kept from SQLAlchemy's reflection; `postgresql_using` comes only when
#: the method is not btree, the default
_INDEX_OPTIONS = ("postgresql_where", "postgresql_using", "postgresql_nulls_not_distinct")


def _index(info: Mapping[str, Any]) -> Index:
    """A reflected index; expression entries come back with a None column name."""
    names = info["column_names"]
    sql = info.get("expressions") or [None] * len(names)
    entries = tuple(n if n is not None else e for n, e in zip(names, sql, strict=False))
    expressions = tuple(e for n, e in zip(names, sql, strict=False) if n is None)
    dialect_options = info.get("dialect_options") or {}
    options = [(k, dialect_options[k]) for k in _INDEX_OPTIONS if dialect_options.get(k)]
    if dialect_options.get("postgresql_include"):
        options.append(("postgresql_include", tuple(dialect_options["postgresql_include"])))
    return Index(
        info["name"] or "",
        entries,
        bool(info.get("unique")),
        tuple(sorted(options)),
        expressions,
    )


def _foreign_key(info: Mapping[str, Any], schema: str | None) -> ForeignKey:
    options = info.get("options") or {}
    ref_schema = info.get("referred_schema")
    return ForeignKey(
        info.get("name"),
        tuple(info["constrained_columns"]),
        info["referred_table"],
        tuple(info["referred_columns"]),
        ref_schema if ref_schema != schema else None,
        options.get("ondelete"),
        options.get("onupdate"),
        options.get("deferrable"),
        options.get("initially"),
    )
