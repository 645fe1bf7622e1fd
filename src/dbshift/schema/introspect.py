"""A live schema as a `Snapshot`, read with a fixed number of bulk catalog queries.

Per-table reflection costs a round trip or more per table; on a schema of a thousand
tables that is seconds. Here each backend reads every table at once: PostgreSQL through
SQLAlchemy's bulk `get_multi_*` inspector methods (a query or two each), MariaDB/MySQL
through `information_schema`, SQLite through its table-valued pragmas joined with
`sqlite_master`. The result equals what per-table SQLAlchemy reflection gives, normalized
as `reflect.py` does, plus what that reflection drops (index options, deferrable keys,
SQLite expression indexes).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from dbshift.schema.snapshot import (
    Check,
    Column,
    Enum,
    ForeignKey,
    Index,
    PrimaryKey,
    Sequence,
    Snapshot,
    Table,
    Unique,
)

Keep = Callable[[str], bool]


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
        return Snapshot.of(found, _pg_enums(conn, schema), _pg_sequences(conn, schema))
    if name in ("mysql", "mariadb"):
        return Snapshot.of(found, (), _mysql_sequences(conn, schema))
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
        found = _mysql_tables(conn, schema, keep, wanted)
    elif name == "sqlite":
        found = _sqlite_tables(conn, schema, keep, wanted)
    else:  # PostgreSQL, and any other dialect through SQLAlchemy's bulk methods
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


# --- PostgreSQL (and the generic path): SQLAlchemy's bulk inspector ---------------------


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
    """A reflected column; identity options have no place in `Column` and are dropped."""
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


def _pg_enums(conn: sa.Connection, schema: str | None) -> list[Enum]:
    rows = conn.execute(
        sa.text(
            "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) "
            "FROM pg_catalog.pg_type t "
            "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
            "JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid "
            "WHERE n.nspname = coalesce(:schema, current_schema()) "
            "GROUP BY t.typname"
        ),
        {"schema": schema},
    )
    return [Enum(name, tuple(values), schema) for name, values in rows]


def _pg_sequences(conn: sa.Connection, schema: str | None) -> list[Sequence]:
    """Explicit sequences: those a SERIAL or identity column owns (pg_depend 'a'/'i')
    belong to the column and are left out."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcycle, "
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
        found.append(
            _sequence(name, schema, start, increment, minvalue, maxvalue, cycle, low, high)
        )
    return found


def _sequence(
    name: str,
    schema: str | None,
    start: int,
    increment: int,
    minvalue: int,
    maxvalue: int,
    cycle: Any,
    low: int,
    high: int,
) -> Sequence:
    """A sequence with the backend's defaults as None, as a model that names none has it."""
    default_start = low if increment > 0 else high
    return Sequence(
        name,
        schema,
        start=None if start == default_start else int(start),
        increment=None if increment == 1 else int(increment),
        minvalue=None if minvalue == low else int(minvalue),
        maxvalue=None if maxvalue == high else int(maxvalue),
        cycle=bool(cycle),
    )


# --- MariaDB / MySQL: information_schema ------------------------------------------------

#: the schema as a constant: MariaDB narrows an information_schema scan to one database
#: only for `TABLE_SCHEMA = <constant>` (PyMySQL binds parameters client-side)
_DATABASE = ":schema"
#: where a query takes the condition that narrows it to the wanted tables
_NAMES = "/*names*/"


def _named(sql: str, column: str, wanted: set[str] | None) -> sa.TextClause:
    """`sql` narrowed to the wanted tables, if any: reading one table (an operation
    restating it) should not cost the whole schema."""
    if wanted is None:
        return sa.text(sql.replace(_NAMES, ""))
    clause = sa.text(sql.replace(_NAMES, f" AND {column} IN :names "))
    return clause.bindparams(sa.bindparam("names", sorted(wanted), expanding=True))


def _mysql_rows(
    conn: sa.Connection, sql: str, schema: str, wanted: set[str] | None = None, column: str = ""
) -> Iterator[Any]:
    return iter(conn.execute(_named(sql, column or "TABLE_NAME", wanted), {"schema": schema}).all())


def _mysql_database(conn: sa.Connection, schema: str | None) -> str:
    return schema if schema is not None else str(conn.exec_driver_sql("SELECT DATABASE()").scalar())


def _mysql_tables(
    conn: sa.Connection, schema: str | None, keep: Keep, wanted: set[str] | None
) -> list[Table]:
    database = _mysql_database(conn, schema)
    tables: dict[str, dict[str, Any]] = {}
    for name, comment, collation in _mysql_rows(
        conn,
        "SELECT TABLE_NAME, TABLE_COMMENT, TABLE_COLLATION FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA = {_DATABASE} AND TABLE_TYPE = 'BASE TABLE' {_NAMES}",
        database,
        wanted,
    ):
        if keep(name):
            tables[name] = {
                "comment": comment or None,
                "collation": collation,
                "columns": [],
                "indexes": defaultdict(list),
                "fks": defaultdict(list),
                "checks": [],
            }
    if not tables:
        return []
    for row in _mysql_rows(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, "
        "CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_COMMENT, GENERATION_EXPRESSION "
        f"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {_DATABASE} {_NAMES}"
        "ORDER BY TABLE_NAME, ORDINAL_POSITION",
        database,
        wanted,
    ):
        if row[0] in tables:
            tables[row[0]]["columns"].append(_mysql_column(conn.dialect, row, tables[row[0]]))
    for table, index, non_unique, column, sub_part in _mysql_rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART "
        f"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = {_DATABASE} {_NAMES}"
        "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        database,
        wanted,
    ):
        if table in tables:
            tables[table]["indexes"][index].append((not int(non_unique), column, sub_part))
    rules = {
        (table, name): (delete, update)
        for table, name, delete, update in _mysql_rows(
            conn,
            "SELECT TABLE_NAME, CONSTRAINT_NAME, DELETE_RULE, UPDATE_RULE "
            "FROM information_schema.REFERENTIAL_CONSTRAINTS "
            f"WHERE CONSTRAINT_SCHEMA = {_DATABASE} {_NAMES}",
            database,
            wanted,
        )
    }
    # joined here, not in SQL: MariaDB joins two information_schema views row by row
    for row in _mysql_rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, "
        "REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
        f"WHERE TABLE_SCHEMA = {_DATABASE} AND REFERENCED_TABLE_NAME IS NOT NULL {_NAMES}"
        "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        database,
        wanted,
    ):
        if row[0] in tables:
            rule = rules.get((row[0], row[1]), (None, None))
            tables[row[0]]["fks"][row[1]].append((*row[2:], *rule))
    if conn.dialect.name == "mariadb" or getattr(conn.dialect, "is_mariadb", False):
        # column-level checks (MariaDB's own for JSON columns) are part of the column
        check_sql = (
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE "
            "FROM information_schema.CHECK_CONSTRAINTS "
            f"WHERE CONSTRAINT_SCHEMA = {_DATABASE} AND LEVEL = 'Table' {_NAMES}"
        )
        check_column = "TABLE_NAME"
    else:
        check_sql = (
            "SELECT t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE "
            "FROM information_schema.CHECK_CONSTRAINTS c "
            "JOIN information_schema.TABLE_CONSTRAINTS t "
            "ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA "
            "AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME AND t.CONSTRAINT_TYPE = 'CHECK' "
            f"WHERE c.CONSTRAINT_SCHEMA = {_DATABASE} {_NAMES}"
        )
        check_column = "t.TABLE_NAME"
    for table, name, clause in _mysql_rows(conn, check_sql, database, wanted, check_column):
        if table in tables:
            tables[table]["checks"].append(Check(name, clause))
    return [_mysql_table(name, schema, database, info) for name, info in tables.items()]


def _mysql_table(name: str, schema: str | None, database: str, info: dict[str, Any]) -> Table:
    """One table, normalized as `reflect.py` does: a unique key is a unique index, and the
    index InnoDB keeps for a foreign key belongs to the key."""
    fks = []
    for fk_name, rows in info["fks"].items():
        ref_schema = rows[0][1]
        fks.append(
            ForeignKey(
                fk_name,
                tuple(r[0] for r in rows),
                rows[0][2],
                tuple(r[3] for r in rows),
                None if ref_schema == database else ref_schema,
                _mysql_rule(rows[0][4]),
                _mysql_rule(rows[0][5]),
            )
        )
    implicit = {(f.name, f.columns) for f in fks}
    primary_key = None
    indexes = []
    for index_name, parts in info["indexes"].items():
        columns = tuple(p[1] for p in parts)
        if index_name == "PRIMARY":
            primary_key = PrimaryKey(columns)
            continue
        unique = parts[0][0]
        if not unique and (index_name, columns) in implicit:
            continue
        lengths = {p[1]: int(p[2]) for p in parts if p[2] is not None}
        options = (("mysql_length", lengths),) if lengths else ()
        indexes.append(Index(index_name, columns, unique, options))
    return Table(
        name=name,
        columns=tuple(info["columns"]),
        schema=schema,
        primary_key=primary_key,
        indexes=tuple(indexes),
        foreign_keys=tuple(fks),
        checks=tuple(info["checks"]),
        comment=info["comment"],
    )


def _mysql_rule(rule: str | None) -> str | None:
    """SHOW CREATE TABLE (and so SQLAlchemy) leaves out the default RESTRICT/NO ACTION."""
    return None if rule in (None, "RESTRICT", "NO ACTION") else rule


_COLUMN_TYPE = re.compile(r"^(?P<name>\w+)(?:\((?P<args>.*)\))?(?P<rest>[\w ]*)$", re.DOTALL)
_QUOTED = re.compile(r"'((?:''|[^'])*)'")


def _mysql_column(dialect: sa.engine.Dialect, row: Any, table: Mapping[str, Any]) -> Column:
    _, name, column_type, nullable, default, extra, charset, collation, comment, generated = row
    extra = (extra or "").lower()
    type_ = _mysql_type(dialect, column_type, charset, collation, table["collation"])
    if default == "NULL":
        default = None
    if default is not None and "on update" in extra:
        default += " ON UPDATE " + extra.split("on update", 1)[1].strip()
    computed = f"({generated})" if generated and "generated" in extra else None
    autoincrement: bool | str = "auto"
    if "auto_increment" in extra:
        autoincrement = True
    elif isinstance(type_, sa.Integer):
        autoincrement = False
    return Column(
        name=name,
        type=type_,
        nullable=nullable == "YES",
        server_default=None if computed else default,
        autoincrement=autoincrement,
        comment=comment or None,
        computed=computed,
    )


def _mysql_type(
    dialect: sa.engine.Dialect,
    column_type: str,
    charset: str | None,
    collation: str | None,
    table_collation: str | None,
) -> sa.types.TypeEngine[Any]:
    """COLUMN_TYPE as the type SQLAlchemy reflects from SHOW CREATE TABLE, which states
    the character set and collation of a column whose collation is not the table's."""
    from sqlalchemy.dialects import mysql

    match = _COLUMN_TYPE.match(column_type.strip())
    if match is None:
        return sa.types.NullType()
    type_class = dialect.ischema_names.get(match["name"].lower(), sa.types.NullType)  # type: ignore[attr-defined]
    args_text = match["args"] or ""
    rest = match["rest"].lower().split()
    args: list[Any]
    kwargs: dict[str, Any] = {}
    if issubclass(type_class, (mysql.ENUM, mysql.SET)):
        args = [v.replace("''", "'") for v in _QUOTED.findall(args_text)]
        if issubclass(type_class, mysql.SET) and "" in args:
            kwargs["retrieve_as_bitwise"] = True
    else:
        args = [int(v) for v in re.findall(r"\d+", args_text)]
    if issubclass(type_class, (mysql.DATETIME, mysql.TIME, mysql.TIMESTAMP)) and args:
        kwargs["fsp"] = args.pop(0)
    for flag in ("unsigned", "zerofill"):
        if flag in rest:
            kwargs[flag] = True
    if collation and collation != table_collation:
        kwargs["charset"] = charset
        kwargs["collate"] = collation
    result: sa.types.TypeEngine[Any] = type_class(*args, **kwargs)
    return result


def _mysql_sequences(conn: sa.Connection, schema: str | None) -> list[Sequence]:
    """MariaDB keeps a sequence's options only in the sequence itself: one UNION query
    reads them all."""
    database = _mysql_database(conn, schema)
    names = [
        row[0]
        for row in _mysql_rows(
            conn,
            "SELECT TABLE_NAME FROM information_schema.TABLES "
            f"WHERE TABLE_SCHEMA = {_DATABASE} AND TABLE_TYPE = 'SEQUENCE' ORDER BY TABLE_NAME",
            database,
        )
    ]
    if not names:
        return []
    quote = conn.dialect.identifier_preparer.quote
    prefix = f"{quote(schema)}." if schema else ""
    sql = " UNION ALL ".join(
        f"SELECT {i}, start_value, increment, minimum_value, maximum_value, cycle_option "
        f"FROM {prefix}{quote(name)}"
        for i, name in enumerate(names)
    )
    found = []
    high = 2**63 - 2
    for i, start, increment, minvalue, maxvalue, cycle in conn.exec_driver_sql(sql):
        low, top = (1, high) if increment > 0 else (-high, -1)
        found.append(
            _sequence(names[i], schema, start, increment, minvalue, maxvalue, cycle, low, top)
        )
    return found


# --- SQLite: table-valued pragmas -------------------------------------------------------


def _sqlite_tables(
    conn: sa.Connection, schema: str | None, keep: Keep, wanted: set[str] | None
) -> list[Table]:
    master = (
        f"{conn.dialect.identifier_preparer.quote(schema)}.sqlite_master"
        if schema
        else "sqlite_master"
    )
    arg = ", :schema" if schema else ""
    params = {"schema": schema}
    tables: dict[str, dict[str, Any]] = {}
    for name, sql in conn.execute(
        _named(
            f"SELECT name, sql FROM {master} WHERE type = 'table' {_NAMES}"
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            "name",
            wanted,
        ),
        params,
    ):
        if keep(name):
            tables[name] = {"parsed": _parse_create_table(sql or ""), "columns": [], "pk": []}
    if not tables:
        return []
    for table, name, type_text, notnull, default, pk, hidden in conn.execute(
        _named(
            'SELECT m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden '
            f"FROM {master} m JOIN pragma_table_xinfo(m.name{arg}) p WHERE m.type = 'table' "
            f"{_NAMES}ORDER BY m.name, p.cid",
            "m.name",
            wanted,
        ),
        params,
    ):
        info = tables.get(table)
        if info is None or hidden == 1:  # 1: a virtual table's hidden column
            continue
        computed = info["parsed"].generated.get(name) if hidden in (2, 3) else None
        if hidden in (2, 3):
            type_text = re.sub(r"\b(generated|always)\b", "", type_text, flags=re.I).strip()
        info["columns"].append(
            Column(
                name=name,
                type=conn.dialect._resolve_type_affinity(type_text),  # type: ignore[attr-defined]
                nullable=not notnull,
                server_default=None if computed is not None or default is None else str(default),
                computed=computed,
            )
        )
        if pk:
            info["pk"].append((pk, name))
    index_parts: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for table, index, unique, origin, partial, cid, column, index_sql in conn.execute(
        _named(
            'SELECT m.name, il.name, il."unique", il.origin, il.partial, x.cid, x.name, s.sql '
            f"FROM {master} m JOIN pragma_index_list(m.name{arg}) il "
            f"JOIN pragma_index_xinfo(il.name{arg}) x "
            f"LEFT JOIN {master} s ON s.type = 'index' AND s.name = il.name "
            f"WHERE m.type = 'table' AND x.key = 1 {_NAMES}ORDER BY m.name, il.name, x.seqno",
            "m.name",
            wanted,
        ),
        params,
    ):
        if table in tables:
            index_parts[(table, index)].append((unique, origin, partial, cid, column, index_sql))
    fk_parts: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for table, fk_id, ref_table, column, ref_column, on_update, on_delete in conn.execute(
        _named(
            'SELECT m.name, f.id, f."table", f."from", f."to", f.on_update, f.on_delete '
            f"FROM {master} m JOIN pragma_foreign_key_list(m.name{arg}) f "
            f"WHERE m.type = 'table' {_NAMES}ORDER BY m.name, f.id, f.seq",
            "m.name",
            wanted,
        ),
        params,
    ):
        if table in tables:
            fk_parts[(table, fk_id)].append((ref_table, column, ref_column, on_update, on_delete))
    pk_columns = {name: tuple(c for _, c in sorted(info["pk"])) for name, info in tables.items()}
    by_table_indexes: dict[str, list[tuple[str, list[Any]]]] = defaultdict(list)
    for (table, index), parts in index_parts.items():
        by_table_indexes[table].append((index, parts))
    by_table_fks: dict[str, list[list[Any]]] = defaultdict(list)
    for (table, _), parts in sorted(fk_parts.items()):
        by_table_fks[table].append(parts)
    return [
        _sqlite_table(
            name,
            schema,
            info,
            by_table_indexes[name],
            by_table_fks[name],
            pk_columns,
        )
        for name, info in tables.items()
    ]


def _sqlite_table(
    name: str,
    schema: str | None,
    info: dict[str, Any],
    indexes: list[tuple[str, list[Any]]],
    fks: list[list[Any]],
    pk_columns: Mapping[str, tuple[str, ...]],
) -> Table:
    parsed: _CreateTable = info["parsed"]
    auto_unique = [tuple(p[4] for p in parts) for _, parts in indexes if parts[0][1] == "u"]
    uniques = []
    for unique_name, columns in parsed.uniques:
        if columns in auto_unique:  # SQLite made an index for it: a real constraint
            auto_unique.remove(columns)
            uniques.append(Unique(unique_name, columns))
    own = []
    for index_name, parts in indexes:
        if parts[0][1] != "c":  # indexes behind PRIMARY KEY and UNIQUE constraints
            continue
        unique, _, partial, _, _, sql = parts[0]
        entries, where = _parse_create_index(sql or "")
        columns = tuple(
            p[4] if p[3] >= 0 else (entries[i] if i < len(entries) else "")
            for i, p in enumerate(parts)
        )
        expressions = tuple(c for c, p in zip(columns, parts, strict=True) if p[3] < 0)
        options = (("sqlite_where", where),) if partial and where else ()
        own.append(Index(index_name, columns, bool(unique), options, expressions))
    foreign_keys = []
    for parts in fks:
        ref_table = parts[0][0]
        columns = tuple(p[1] for p in parts)
        ref_columns = tuple(p[2] for p in parts)
        if any(c is None for c in ref_columns):  # REFERENCES t: its primary key
            ref_columns = pk_columns.get(ref_table, ())
        fk_name, deferrable, initially = parsed.foreign_keys.get(
            (columns, ref_table.lower()), (None, None, None)
        )
        foreign_keys.append(
            ForeignKey(
                fk_name,
                columns,
                ref_table,
                ref_columns,
                ondelete=_sqlite_rule(parts[0][4]),
                onupdate=_sqlite_rule(parts[0][3]),
                deferrable=deferrable,
                initially=initially,
            )
        )
    pk = pk_columns[name]
    return Table(
        name=name,
        columns=tuple(info["columns"]),
        schema=schema,
        primary_key=PrimaryKey(pk, parsed.primary_key_name) if pk else None,
        indexes=tuple(own),
        foreign_keys=tuple(foreign_keys),
        uniques=tuple(uniques),
        checks=tuple(Check(n, t) for n, t in parsed.checks),
    )


def _sqlite_rule(rule: str | None) -> str | None:
    return None if rule in (None, "NO ACTION") else rule


# A small tokenizer for CREATE TABLE / CREATE INDEX text: what the pragmas do not tell
# (constraint names, CHECK text, generated-column and partial-index expressions).

_TOKEN = re.compile(
    r"""\s+|--[^\n]*|/\*.*?\*/
    |(?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|'(?:[^']|'')*')
    |(?P<word>[\w$]+)
    |(?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


class _Token:
    __slots__ = ("end", "kind", "start", "text")

    def __init__(self, kind: str, text: str, start: int, end: int) -> None:
        self.kind, self.text, self.start, self.end = kind, text, start, end

    def word(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _tokens(sql: str) -> list[_Token]:
    found = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind is not None:
            found.append(_Token(kind, m.group(), m.start(), m.end()))
    return found


def _unquote(token: _Token) -> str:
    text = token.text
    if token.kind == "quoted" and text[0] in "\"`'":
        return text[1:-1].replace(text[0] * 2, text[0])
    if token.kind == "quoted":  # [name]
        return text[1:-1]
    return text


def _closing(tokens: list[_Token], open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(tokens)):
        if tokens[i].text == "(":
            depth += 1
        elif tokens[i].text == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(tokens) - 1


def _split(tokens: list[_Token]) -> Iterator[list[_Token]]:
    """Comma-separated items at the top level of a parenthesized list."""
    depth = 0
    item: list[_Token] = []
    for token in tokens:
        if token.text == "," and depth == 0:
            yield item
            item = []
            continue
        depth += token.text == "("
        depth -= token.text == ")"
        item.append(token)
    if item:
        yield item


class _CreateTable:
    """What a CREATE TABLE statement names that SQLite's pragmas do not report."""

    def __init__(self) -> None:
        self.primary_key_name: str | None = None
        self.uniques: list[tuple[str | None, tuple[str, ...]]] = []
        self.checks: list[tuple[str | None, str]] = []
        #: (columns, lower-case referenced table) -> (name, deferrable, initially)
        self.foreign_keys: dict[tuple[tuple[str, ...], str], tuple[Any, Any, Any]] = {}
        self.generated: dict[str, str] = {}


def _parse_create_table(sql: str) -> _CreateTable:
    result = _CreateTable()
    tokens = _tokens(sql)
    start = next((i for i, t in enumerate(tokens) if t.text == "("), None)
    if start is None:
        return result
    end = _closing(tokens, start)
    for item in _split(tokens[start + 1 : end]):
        if not item:
            continue
        if item[0].word() in ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"):
            _table_constraint(sql, item, result)
        else:
            _column_constraints(sql, item, result)
    return result


def _inner(sql: str, tokens: list[_Token], open_at: int) -> tuple[str, int]:
    """The text between the parenthesis at `open_at` and its match, and the match."""
    close = _closing(tokens, open_at)
    if close <= open_at + 1:
        return "", close
    return sql[tokens[open_at + 1].start : tokens[close - 1].end].strip(), close


def _names(tokens: list[_Token], open_at: int) -> tuple[tuple[str, ...], int]:
    close = _closing(tokens, open_at)
    items = _split(tokens[open_at + 1 : close])
    return tuple(_unquote(item[0]) for item in items if item), close


def _table_constraint(sql: str, item: list[_Token], result: _CreateTable) -> None:
    name = None
    i = 0
    if item[0].word() == "CONSTRAINT" and len(item) > 1:
        name, i = _unquote(item[1]), 2
    if i >= len(item):
        return
    kind = item[i].word()
    paren = next((j for j in range(i, len(item)) if item[j].text == "("), None)
    if paren is None:
        return
    if kind == "PRIMARY":
        result.primary_key_name = name
    elif kind == "UNIQUE":
        result.uniques.append((name, _names(item, paren)[0]))
    elif kind == "CHECK":
        result.checks.append((name, _inner(sql, item, paren)[0]))
    elif kind == "FOREIGN":
        columns, close = _names(item, paren)
        _references(item, close + 1, columns, name, result)


def _column_constraints(sql: str, item: list[_Token], result: _CreateTable) -> None:
    column = _unquote(item[0])
    name = None
    i = 1
    while i < len(item):
        word = item[i].word()
        if word == "CONSTRAINT" and i + 1 < len(item):
            name = _unquote(item[i + 1])
            i += 2
            continue
        if word == "PRIMARY":
            result.primary_key_name = name
        elif word == "UNIQUE":
            result.uniques.append((name, (column,)))
        elif word in ("CHECK", "AS") and i + 1 < len(item) and item[i + 1].text == "(":
            text, close = _inner(sql, item, i + 1)
            if word == "CHECK":
                result.checks.append((name, text))
            else:
                result.generated[column] = text
            i = close
        elif word == "REFERENCES":
            _references(item, i, (column,), name, result)
        elif item[i].text == "(":
            i = _closing(item, i)
        name = None if word not in ("NOT", "NULL") else name
        i += 1


def _references(
    item: list[_Token],
    at: int,
    columns: tuple[str, ...],
    name: str | None,
    result: _CreateTable,
) -> None:
    """`REFERENCES t (...) ... [NOT] DEFERRABLE [INITIALLY x]` from token `at` on."""
    if at + 1 >= len(item) or item[at].word() != "REFERENCES":
        return
    ref_table = _unquote(item[at + 1]).lower()
    words = [t.word() for t in item[at + 2 :]]
    deferrable = initially = None
    if "DEFERRABLE" in words:
        d = words.index("DEFERRABLE")
        deferrable = not (d > 0 and words[d - 1] == "NOT")
        if d + 2 < len(words) and words[d + 1] == "INITIALLY":
            initially = words[d + 2]
    result.foreign_keys[(columns, ref_table)] = (name, deferrable, initially)


def _parse_create_index(sql: str) -> tuple[list[str], str | None]:
    """The entries of CREATE INDEX ... ON t (entries) [WHERE predicate], as written."""
    tokens = _tokens(sql)
    on = next((i for i, t in enumerate(tokens) if t.word() == "ON"), None)
    paren = next((i for i in range(on or 0, len(tokens)) if tokens[i].text == "("), None)
    if on is None or paren is None:
        return [], None
    close = _closing(tokens, paren)
    entries = []
    for part in _split(tokens[paren + 1 : close]):
        while len(part) > 1 and part[-1].word() in ("ASC", "DESC"):
            part = part[:-1]
        entries.append(sql[part[0].start : part[-1].end] if part else "")
    where = None
    if close + 1 < len(tokens) and tokens[close + 1].word() == "WHERE":
        where = sql[tokens[close + 1].end :].strip().rstrip(";").strip() or None
    return entries, where
