"""The introspection of a dialect dbshift has no backend package for: SQLAlchemy's bulk
`get_multi_*` inspector methods (the base `Backend.read_tables`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from dbshift.dialects.introspect_common import NameFilter
from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, PrimaryKey, Table, Unique


def inspected_tables(
    conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
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
        persisted=computed.get("persisted") if computed else None,
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
