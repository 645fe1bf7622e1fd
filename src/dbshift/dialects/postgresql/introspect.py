"""PostgreSQL: a whole schema in a handful of catalog queries.

Each query reads every wanted table at once (tables and their comments; columns;
primary keys, unique, foreign-key and check constraints; indexes) and does in SQL what
SQLAlchemy's reflection does in Python: column lists from `conkey`/`confkey`/`indkey`,
expression entries through `pg_get_indexdef(indexrelid, k, true)`, check text through
`pg_get_expr`, operator classes and collations named as `pg_get_indexdef` names them
(schema-qualified only when not visible). The result equals SQLAlchemy's PostgreSQL
reflection (normalized as `introspect.py` does), at a fraction of its Python cost.

Every catalog value arrives as text, integers, booleans or integer arrays whatever the
driver: `"char"` columns (`contype`, `confupdtype`) and `name` columns are cast to
`text` in SQL, since asyncpg returns `"char"` as bytes where psycopg returns str, and
`int2vector` columns are cast to `int2[]`.

Column types are SQLAlchemy's own: the dialect's type resolution runs once per distinct
`format_type()` text (and collation), not once per column; enums and domains are read
only when a type needs them.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import re
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.sql.base import SchemaEventTarget
from sqlalchemy.types import TypeEngine

from dbshift.dialects.introspect_common import NameFilter, sequence
from dbshift.schema.snapshot import (
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Sequence,
    Table,
    Unique,
)

#: the tables `Inspector.get_multi_*` reads by default: ordinary, partitioned and
#: foreign tables, not temporary ones
_TABLES = """
SELECT c.oid, c.relname::text, d.description
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_description d ON d.objoid = c.oid AND d.objsubid = 0
    AND d.classoid = 'pg_catalog.pg_class'::regclass
WHERE c.relkind IN ('r', 'p', 'f') AND c.relpersistence <> 't' AND {schema}{names}
ORDER BY c.relname
"""

_COLUMNS = """
SELECT a.attrelid, a.attnum, a.attname::text,
    pg_catalog.format_type(a.atttypid, a.atttypmod),
    a.attnotnull,
    CASE WHEN a.atthasdef THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END,
    {generated},
    CASE WHEN a.attidentity <> '' THEN ARRAY[
        (a.attidentity = 'a')::int::bigint,
        (SELECT s.seqstart FROM pg_catalog.pg_depend dep
            JOIN pg_catalog.pg_sequence s ON s.seqrelid = dep.objid
            WHERE dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum
                AND dep.deptype = 'i' AND dep.classid = 'pg_catalog.pg_class'::regclass),
        (SELECT s.seqincrement FROM pg_catalog.pg_depend dep
            JOIN pg_catalog.pg_sequence s ON s.seqrelid = dep.objid
            WHERE dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum
                AND dep.deptype = 'i' AND dep.classid = 'pg_catalog.pg_class'::regclass)
    ] END,
    d.description,
    co.collname::text,
    CASE WHEN NOT pg_catalog.pg_collation_is_visible(co.oid) THEN cn.nspname::text END
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef ad ON a.atthasdef AND ad.adrelid = a.attrelid
    AND ad.adnum = a.attnum
LEFT JOIN pg_catalog.pg_description d ON d.objoid = a.attrelid AND d.objsubid = a.attnum
    AND d.classoid = 'pg_catalog.pg_class'::regclass
LEFT JOIN pg_catalog.pg_collation co ON a.attcollation <> 0
    AND a.attcollation <> t.typcollation AND co.oid = a.attcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
WHERE a.attrelid = ANY(:oids) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""


#: primary keys, unique, foreign-key and check constraints of all tables at once; column
#: numbers are named from the columns read, except those of a table not read (a foreign
#: key's target elsewhere), named here
_CONSTRAINTS = """
SELECT con.conrelid, con.contype::text, con.conname::text, con.conkey::int2[],
    CASE WHEN con.contype = 'c' THEN pg_catalog.pg_get_expr(con.conbin, con.conrelid, true) END,
    con.confrelid, con.confkey::int2[],
    CASE WHEN con.contype = 'f' AND NOT con.confrelid = ANY(:oids) THEN
        ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
            ORDER BY k.ord) END,
    rc.relname::text, rn.nspname::text, pg_catalog.pg_table_is_visible(con.confrelid),
    con.confupdtype::text, con.confdeltype::text, con.condeferrable, con.condeferred,
    CASE WHEN con.contype = 'f' AND (con.confupdtype IN ('n', 'd') OR con.confdeltype IN ('n', 'd'))
        THEN pg_catalog.pg_get_constraintdef(con.oid, true) END
FROM pg_catalog.pg_constraint con
LEFT JOIN pg_catalog.pg_class rc ON con.contype = 'f' AND rc.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = ANY(:oids) AND con.contype IN ('p', 'u', 'f', 'c')
"""

#: indexes that are not behind a primary key, unique or exclusion constraint: the
#: column numbers (0 for an expression) and the expressions' text, in order; per key
#: column the operator class unless it is its type's default (`opcdefault`) and the
#: collation unless it is the column's own (an expression's: its type's); the storage
#: parameters (`reloptions`, `name=value` texts) and a tablespace that is not the
#: database's default (`reltablespace` 0)
_INDEXES = """
SELECT i.indrelid, ic.relname::text, i.indisunique, am.amname::text,
    CASE WHEN i.indpred IS NOT NULL THEN pg_catalog.pg_get_expr(i.indpred, i.indrelid) END,
    {nulls_not_distinct}, i.indkey::int2[], {key_columns},
    CASE WHEN i.indexprs IS NOT NULL THEN
        ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k.ord::int, true)
            FROM unnest(i.indkey) WITH ORDINALITY k(num, ord)
            WHERE k.num = 0 AND k.ord <= {key_columns} ORDER BY k.ord) END,
    i.indoption::int2[],
    ARRAY(SELECT CASE WHEN NOT oc.opcdefault THEN
            CASE WHEN pg_catalog.pg_opclass_is_visible(oc.oid) THEN ''
                ELSE pg_catalog.quote_ident(ocn.nspname) || '.' END
            || pg_catalog.quote_ident(oc.opcname) END
        FROM unnest(i.indclass::oid[]) WITH ORDINALITY k(class, ord)
        JOIN pg_catalog.pg_opclass oc ON oc.oid = k.class
        JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace
        ORDER BY k.ord),
    ARRAY(SELECT CASE WHEN k.coll <> 0 AND k.coll <> CASE WHEN n.num <> 0
                THEN ta.attcollation ELSE ty.typcollation END THEN
            CASE WHEN pg_catalog.pg_collation_is_visible(co.oid) THEN ''
                ELSE pg_catalog.quote_ident(con.nspname) || '.' END
            || pg_catalog.quote_ident(co.collname) END
        FROM unnest(i.indcollation::oid[]) WITH ORDINALITY k(coll, ord)
        JOIN unnest(i.indkey::int2[]) WITH ORDINALITY n(num, ord) ON n.ord = k.ord
        JOIN pg_catalog.pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k.ord
        JOIN pg_catalog.pg_type ty ON ty.oid = ia.atttypid
        LEFT JOIN pg_catalog.pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = n.num
        LEFT JOIN pg_catalog.pg_collation co ON co.oid = k.coll
        LEFT JOIN pg_catalog.pg_namespace con ON con.oid = co.collnamespace
        ORDER BY k.ord),
    ic.reloptions,
    CASE WHEN ic.reltablespace <> 0 THEN (SELECT ts.spcname::text
        FROM pg_catalog.pg_tablespace ts WHERE ts.oid = ic.reltablespace) END
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
WHERE i.indrelid = ANY(:oids) AND NOT i.indisprimary
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con
        WHERE con.conrelid = i.indrelid AND con.conindid = i.indexrelid
        AND con.contype IN ('p', 'u', 'x'))
"""

#: pg_constraint.confupdtype/confdeltype as pg_get_constraintdef spells them; NO ACTION,
#: the default, is left out as SQLAlchemy leaves it out
_RULES = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
_SET_RULE = re.compile(r"ON (UPDATE|DELETE) (SET (?:NULL|DEFAULT)(?: \([^)]*\))?)")
_NEXTVAL = re.compile(r"""(nextval\(')([^']+)('.*$)""")
_OUTER_PARENS = re.compile(r"^[\s\n]*\((.+)\)[\s\n]*$", flags=re.DOTALL)


#: `pg_index.indoption` bits (1: DESC, 2: NULLS FIRST) as a model writes them; DESC
#: puts nulls first unless told otherwise
_ORDER = {1: " DESC NULLS LAST", 2: " NULLS FIRST", 3: " DESC"}


def _strip_outer_parens(text: str) -> str:
    """A check's text as SQLAlchemy gives it: one layer of wrapping parentheses off."""
    strip: Callable[[str], str] | None = getattr(sa.util, "strip_outer_parens", None)
    if strip is not None:  # SQLAlchemy 2.1
        return strip(text)
    return _OUTER_PARENS.sub(r"\1", text)  # SQLAlchemy 2.0


def pg_tables(
    conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
) -> list[Table]:
    """The tables of `schema` (None: those visible on the search path) that `keep`
    accepts; `wanted` narrows the catalog queries themselves."""
    with _without_jit(conn):
        return _pg_tables(conn, schema, keep, wanted)


@contextlib.contextmanager
def _without_jit(conn: sa.Connection) -> Iterator[None]:
    """The columns query over a big schema costs enough for PostgreSQL to compile it
    with JIT, which takes longer (about 0.5 s) than running it (about 0.06 s). JIT is
    switched off for these queries only, within the current transaction."""
    version = conn.dialect.server_version_info or (0,)
    if version < (11,):  # no JIT before PostgreSQL 11
        yield
        return
    previous = conn.execute(
        sa.text("SELECT current_setting('jit'), set_config('jit', 'off', true)")
    ).scalar()
    try:
        yield
    finally:
        conn.execute(sa.text("SELECT set_config('jit', :value, true)"), {"value": previous})


def _pg_tables(
    conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
) -> list[Table]:
    dialect: Any = conn.dialect
    version = dialect.server_version_info or (0,)
    where = (
        "n.nspname = :schema"
        if schema is not None
        # a visible table is in a schema of the search path: checked first, it is cheap
        else "n.nspname = ANY(current_schemas(false)) AND n.nspname <> 'pg_catalog' "
        "AND pg_catalog.pg_table_is_visible(c.oid)"
    )
    names = "" if wanted is None else " AND c.relname = ANY(:names)"
    params: dict[str, Any] = {"schema": schema, "names": sorted(wanted or ())}
    tables: dict[int, dict[str, Any]] = {}
    for oid, name, comment in conn.execute(
        sa.text(_TABLES.format(schema=where, names=names)), params
    ):
        if keep(name):
            tables[oid] = {
                "name": name,
                "comment": comment,
                "columns": [],
                "pk": None,
                "uniques": [],
                "fks": [],
                "checks": [],
                "indexes": [],
            }
    if not tables:
        return []
    oids = {"oids": list(tables)}
    # 's' stored, 'v' virtual (PostgreSQL 18), NULL for a plain column
    generated = "NULLIF(a.attgenerated::text, '')" if version >= (12,) else "NULL::text"
    types = _Types(conn)
    #: (table oid, column number) -> column name
    attnames: dict[tuple[int, int], str] = {}
    for row in conn.execute(sa.text(_COLUMNS.format(generated=generated)), oids).all():
        attnames[(row[0], row[1])] = row[2]
        tables[row[0]]["columns"].append(_column(row, types, schema))
    unique_names: set[tuple[int, str]] = set()
    for row in conn.execute(sa.text(_CONSTRAINTS), oids).all():
        table = tables[row[0]]
        kind, name = row[1], row[2]
        columns = tuple([attnames[(row[0], n)] for n in row[3] or ()])
        if kind == "p":
            table["pk"] = PrimaryKey(columns, name)
        elif kind == "u":
            table["uniques"].append(Unique(name, columns))
            unique_names.add((row[0], name))
        elif kind == "c":
            table["checks"].append(Check(name, _strip_outer_parens(row[4])))
        else:
            ref_columns = row[7]
            if ref_columns is None:
                ref_columns = [attnames[(row[5], n)] for n in row[6]]
            table["fks"].append(_foreign_key(row, columns, tuple(ref_columns), schema))
    key_columns = "i.indnkeyatts" if version >= (11,) else "i.indnatts"
    nulls_not_distinct = "i.indnullsnotdistinct" if version >= (15,) else "false"
    index_sql = _INDEXES.format(key_columns=key_columns, nulls_not_distinct=nulls_not_distinct)
    quote = conn.dialect.identifier_preparer.quote
    for row in conn.execute(sa.text(index_sql), oids).all():
        oid, name, unique, method, where_sql, nnd, keys, key_count, expressions, order = row[:10]
        classes, collations, storage, tablespace = row[10:]
        if (oid, name) in unique_names:
            continue
        pending = iter(expressions or ())
        entries, ordered, ops = [], [], {}
        for i, n in enumerate(keys[:key_count]):
            suffix = _ORDER.get(order[i] & 3, "") if order else ""
            if collations[i]:
                suffix = f" COLLATE {collations[i]}{suffix}"
            if n and not suffix:
                entry = attnames[(oid, n)]
            else:
                entry = (quote(attnames[(oid, n)]) if n else next(pending, "")) + suffix
                ordered.append(entry)
            entries.append(entry)
            if classes[i]:
                ops[entry] = classes[i]
        expressions = tuple(ordered)
        include = [attnames[(oid, n)] for n in keys[key_count:]]
        options: list[tuple[str, Any]] = []
        if include:
            options.append(("postgresql_include", tuple(include)))
        if ops:
            options.append(("postgresql_ops", ops))
        if storage:
            options.append(("postgresql_with", dict(o.partition("=")[::2] for o in storage)))
        if tablespace:
            options.append(("postgresql_tablespace", tablespace))
        if nnd:
            options.append(("postgresql_nulls_not_distinct", True))
        if method != "btree":
            options.append(("postgresql_using", method))
        if where_sql:
            options.append(("postgresql_where", where_sql))
        tables[oid]["indexes"].append(
            Index(name, tuple(entries), bool(unique), tuple(sorted(options)), expressions)
        )
    return [
        Table(
            name=t["name"],
            columns=tuple(t["columns"]),
            schema=schema,
            primary_key=t["pk"],
            indexes=tuple(t["indexes"]),
            foreign_keys=tuple(t["fks"]),
            uniques=tuple(t["uniques"]),
            checks=tuple(t["checks"]),
            comment=t["comment"],
        )
        for t in tables.values()
    ]


def _column(row: Any, types: _Types, schema: str | None) -> Column:
    """One column as SQLAlchemy's `_get_columns_info` reflects it."""
    name, format_type, not_null, default, generated, identity, comment, coll, coll_schema = row[2:]
    type_ = types.get(format_type, name, coll, coll_schema)
    nullable = not not_null
    if types.is_domain(type_):
        if not default and type_.default is not None:  # type: ignore[attr-defined]
            default = type_.default  # type: ignore[attr-defined]
        nullable = nullable and not type_.not_null  # type: ignore[attr-defined]
    if generated:
        return Column(
            name=name,
            type=type_,
            nullable=nullable,
            autoincrement=bool(identity),
            comment=comment,
            computed=default,
            persisted=generated == "s",
        )
    autoincrement = False
    if default is not None and "nextval(" in default:
        match = _NEXTVAL.search(default)
        if match is not None:
            if issubclass(type_._type_affinity, sa.Integer):  # type: ignore[arg-type]
                autoincrement = True
            if "." not in match.group(2) and schema is not None:
                default = f'{match.group(1)}"{schema}".{match.group(2)}{match.group(3)}'
    return Column(
        name=name,
        type=type_,
        nullable=nullable,
        server_default=default,
        autoincrement=autoincrement or bool(identity),
        comment=comment,
        identity=_identity(identity),
    )


def _identity(options: list[int] | None) -> tuple[tuple[str, Any], ...] | None:
    """An identity column's options: GENERATED ALWAYS or not, start and increment."""
    if options is None:
        return None
    always, start, increment = options
    return (("always", bool(always)), ("increment", increment), ("start", start))


def _foreign_key(
    row: Any, columns: tuple[str, ...], ref_columns: tuple[str, ...], schema: str | None
) -> ForeignKey:
    """A foreign key as SQLAlchemy reads it from pg_get_constraintdef: the referenced
    schema is named only when the table is not visible on the search path (or is in
    the schema read)."""
    name, ref_table, ref_nsp, visible = row[2], row[8], row[9], row[10]
    on_update, on_delete, deferrable, deferred, condef = row[11:]
    ref_schema = ref_nsp if not visible else (schema if schema == ref_nsp else None)
    onupdate, ondelete = _RULES.get(on_update), _RULES.get(on_delete)
    if condef:  # SET NULL (columns) / SET DEFAULT (columns), PostgreSQL 15
        for which, rule in _SET_RULE.findall(condef):
            if which == "UPDATE":
                onupdate = rule
            else:
                ondelete = rule
    return ForeignKey(
        name,
        columns,
        ref_table,
        ref_columns,
        ref_schema if ref_schema != schema else None,
        ondelete,
        onupdate,
        True if deferrable else None,
        "DEFERRED" if deferred else None,
    )


class _NamedTypes:
    """Enums and domains of every schema, keyed as SQLAlchemy's type resolution wants
    them, read on first use only."""

    def __init__(self, dialect: Any, conn: sa.Connection) -> None:
        self.dialect = dialect
        self.connection = conn

    @cached_property
    def enums(self) -> dict[tuple[str, ...], Any]:
        return {
            ((e["name"],) if e["visible"] else (e["schema"], e["name"])): e
            for e in self.dialect._load_enums(self.connection, schema="*")
        }

    @cached_property
    def domains(self) -> dict[tuple[str, ...], Any]:
        return {
            ((d["name"],) if d["visible"] else (d["schema"], d["name"])): d
            for d in self.dialect._load_domains(self.connection, schema="*")
        }


#: what a column's reflected type depends on: format_type, collation, collation schema
_TypeKey = tuple[str | None, str | None, str | None]


class _Types:
    """SQLAlchemy type objects for `format_type()` texts, resolved once per distinct
    text and collation by the dialect's own `_reflect_type`."""

    def __init__(self, conn: sa.Connection) -> None:
        self.dialect: Any = cast(Any, conn.dialect)
        self.named = _NamedTypes(self.dialect, conn)
        self.cache: dict[_TypeKey, TypeEngine[Any]] = {}
        self.new_style = (
            "named_type_loader" in inspect.signature(self.dialect._reflect_type).parameters
        )
        # lazy: SQLAlchemy's PostgreSQL types, imported where a PostgreSQL catalog is read
        from sqlalchemy.dialects.postgresql import DOMAIN

        self.domain_class: type[Any] = DOMAIN

    def is_domain(self, type_: TypeEngine[Any]) -> bool:
        return isinstance(type_, self.domain_class)

    def get(
        self,
        format_type: str | None,
        column: str,
        collation: str | None,
        collation_schema: str | None,
    ) -> TypeEngine[Any]:
        key = (format_type, collation, collation_schema)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._resolve(key, column)
        if isinstance(found, SchemaEventTarget):
            # enums, booleans, domains: attached to a table, they hold per-table state
            return copy.copy(found)
        return found

    def _resolve(self, key: _TypeKey, column: str) -> TypeEngine[Any]:
        """The type of `key` (format_type, collation, collation_schema), all it depends
        on; `column` names it in SQLAlchemy's warnings."""
        format_type, collation, collation_schema = key
        description = f"column '{column}'"
        result: TypeEngine[Any]
        if self.new_style:
            result = self.dialect._reflect_type(
                format_type,
                self.named,
                type_description=description,
                collation=collation,
                collation_schema=collation_schema,
            )
        else:  # SQLAlchemy 2.0: enums and domains as dicts, collation without schema
            result = self.dialect._reflect_type(
                format_type,
                self.named.domains,
                self.named.enums,
                type_description=description,
                collation=collation,
            )
        return result


def pg_enums(conn: sa.Connection, schema: str | None) -> list[Enum]:
    rows = conn.execute(
        sa.text(
            "SELECT t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) "
            "FROM pg_catalog.pg_type t "
            "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
            "JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid "
            "WHERE n.nspname = coalesce(:schema, current_schema()) "
            "GROUP BY t.typname"
        ),
        {"schema": schema},
    )
    return [Enum(name, tuple(values), schema) for name, values in rows]


def pg_sequences(conn: sa.Connection, schema: str | None) -> list[Sequence]:
    """Explicit sequences: those a SERIAL or identity column owns (pg_depend 'a'/'i')
    belong to the column and are left out."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname::text, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcycle, "
            "format_type(s.seqtypid, NULL) "
            "FROM pg_catalog.pg_sequence s "
            "JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = coalesce(:schema, current_schema()) "
            "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d "
            "WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid "
            "AND d.deptype IN ('a', 'i'))"
        ),
        {"schema": schema},
    )
    bits = {"smallint": 16, "integer": 32, "bigint": 64}
    found = []
    for name, start, increment, minvalue, maxvalue, cycle, type_name in rows:
        top = 2 ** (bits.get(type_name, 64) - 1) - 1
        low, high = (1, top) if increment > 0 else (-top - 1, -1)
        found.append(sequence(name, schema, start, increment, minvalue, maxvalue, cycle, low, high))
    return found
