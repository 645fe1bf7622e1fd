"""Reading one table's definition from a live database.

Used where an operation must restate a table or column (SQLite rebuilds, MySQL
`MODIFY`). Whole-schema introspection with bulk catalog queries is separate.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import sqlalchemy as sa

from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, PrimaryKey, Table, Unique


def reflect_table(conn: sa.Connection, name: str, schema: str | None = None) -> Table | None:
    inspector = sa.inspect(conn)
    if not inspector.has_table(name, schema=schema):
        return None
    with warnings.catch_warnings():
        # SQLite expression indexes: the table rebuild restores them from their SQL.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        table = _reflect(inspector, name, schema)
    if conn.dialect.name in ("mysql", "mariadb"):
        table = _mysql_normalized(table)
    return table


def _reflect(inspector: Any, name: str, schema: str | None) -> Table:
    pk = inspector.get_pk_constraint(name, schema=schema)
    pk_columns = tuple(pk.get("constrained_columns") or ())
    unique_names = set()
    uniques = []
    for uq in inspector.get_unique_constraints(name, schema=schema):
        unique_names.add(uq.get("name"))
        uniques.append(Unique(uq.get("name"), tuple(uq["column_names"])))
    indexes = [
        _index(ix)
        for ix in inspector.get_indexes(name, schema=schema)
        if ix["name"] not in unique_names and not ix.get("duplicates_constraint")
    ]
    fks = [
        ForeignKey(
            fk.get("name"),
            tuple(fk["constrained_columns"]),
            fk["referred_table"],
            tuple(fk["referred_columns"]),
            fk.get("referred_schema") if fk.get("referred_schema") != schema else None,
            (fk.get("options") or {}).get("ondelete"),
            (fk.get("options") or {}).get("onupdate"),
        )
        for fk in inspector.get_foreign_keys(name, schema=schema)
    ]
    checks = [
        Check(ck.get("name"), ck["sqltext"])
        for ck in inspector.get_check_constraints(name, schema=schema)
    ]
    columns = tuple(_column(c) for c in inspector.get_columns(name, schema=schema))
    try:
        comment = inspector.get_table_comment(name, schema=schema).get("text")
    except NotImplementedError:
        comment = None
    return Table(
        name=name,
        columns=columns,
        schema=schema,
        primary_key=PrimaryKey(pk_columns, pk.get("name")) if pk_columns else None,
        indexes=tuple(indexes),
        foreign_keys=tuple(fks),
        uniques=tuple(uniques),
        checks=tuple(checks),
        comment=comment,
    )


def _column(info: Any) -> Column:
    computed = info.get("computed")
    return Column(
        name=info["name"],
        type=info["type"],
        nullable=bool(info["nullable"]),
        server_default=info.get("default") if not computed else None,
        autoincrement=info.get("autoincrement", "auto"),
        comment=info.get("comment"),
        computed=computed["sqltext"] if computed else None,
    )


def _index(info: Any) -> Index:
    """Reflected index; expression entries come back with a None column name."""
    names = info["column_names"]
    sql = info.get("expressions") or [None] * len(names)
    entries = tuple(n if n is not None else e for n, e in zip(names, sql, strict=False))
    expressions = tuple(e for n, e in zip(names, sql, strict=False) if n is None)
    return Index(info["name"] or "", entries, bool(info.get("unique")), expressions=expressions)


def _mysql_normalized(table: Table) -> Table:
    """MySQL has no unique constraint apart from its unique index: describe it as the
    index it is. The index InnoDB creates for a foreign key belongs to the key: leave it
    out. SQLAlchemy's MySQL reflection also leaves backticks doubled in names."""

    def name(text: str) -> str:
        return text.replace("``", "`")

    def names(items: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(name(i) for i in items)

    uniques = tuple(Index(u.name or "", names(u.columns), unique=True) for u in table.uniques)
    implicit = {(f.name, f.columns) for f in table.foreign_keys}
    own = tuple(i for i in table.indexes if i.unique or (i.name, i.columns) not in implicit)
    return table.replace(
        columns=tuple(dataclasses.replace(c, name=name(c.name)) for c in table.columns),
        primary_key=dataclasses.replace(table.primary_key, columns=names(table.primary_key.columns))
        if table.primary_key
        else None,
        indexes=tuple(dataclasses.replace(i, columns=names(i.columns)) for i in (*own, *uniques)),
        uniques=(),
        foreign_keys=tuple(
            dataclasses.replace(f, columns=names(f.columns), ref_columns=names(f.ref_columns))
            for f in table.foreign_keys
        ),
    )
