"""Reading one table's definition from a live database.

Used where an operation must restate a table or column (SQLite rebuilds, MySQL
`MODIFY`). Whole-schema introspection with bulk catalog queries is separate.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, PrimaryKey, Table, Unique


def reflect_table(conn: sa.Connection, name: str, schema: str | None = None) -> Table | None:
    inspector = sa.inspect(conn)
    if not inspector.has_table(name, schema=schema):
        return None
    pk = inspector.get_pk_constraint(name, schema=schema)
    pk_columns = tuple(pk.get("constrained_columns") or ())
    unique_names = set()
    uniques = []
    for uq in inspector.get_unique_constraints(name, schema=schema):
        unique_names.add(uq.get("name"))
        uniques.append(Unique(uq.get("name"), tuple(uq["column_names"])))
    indexes = [
        Index(
            ix["name"] or "",
            tuple(
                c if c is not None else e
                for c, e in zip(ix["column_names"], _expressions(ix), strict=False)
            ),
            bool(ix.get("unique")),
        )
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


def _expressions(index: Any) -> list[Any]:
    return list(index.get("expressions") or [None] * len(index["column_names"]))
