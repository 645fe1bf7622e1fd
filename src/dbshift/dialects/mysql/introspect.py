"""MariaDB / MySQL: a whole schema from `information_schema`, a query per kind of object
for all tables at once (see `dbshift.schema.introspect`)."""

from __future__ import annotations

import copy
import functools
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.base import SchemaEventTarget

from dbshift.dialects.introspect_common import NAMES, NameFilter, named, sequence
from dbshift.dialects.mysql.flavour import is_mariadb
from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, PrimaryKey, Sequence, Table

#: the schema as a constant: MariaDB narrows an information_schema scan to one database
#: only for `TABLE_SCHEMA = <constant>` (PyMySQL binds parameters client-side)
_DATABASE = ":schema"


def _mysql_rows(
    conn: sa.Connection, sql: str, schema: str, wanted: set[str] | None = None, column: str = ""
) -> Iterator[Any]:
    return iter(conn.execute(named(sql, column or "TABLE_NAME", wanted), {"schema": schema}).all())


def _mysql_database(conn: sa.Connection, schema: str | None) -> str:
    """The database to read: `schema`, else the connection's, which SQLAlchemy looked
    up when it connected (no query per call)."""
    if schema is not None:
        return schema
    default = conn.dialect.default_schema_name
    if default is None:
        default = conn.exec_driver_sql("SELECT DATABASE()").scalar()
    return str(default)


def mysql_tables(
    conn: sa.Connection, schema: str | None, keep: NameFilter, wanted: set[str] | None
) -> list[Table]:
    database = _mysql_database(conn, schema)
    tables: dict[str, dict[str, Any]] = {}
    for name, comment, collation, engine in _mysql_rows(
        conn,
        "SELECT TABLE_NAME, TABLE_COMMENT, TABLE_COLLATION, ENGINE FROM information_schema.TABLES "
        f"WHERE TABLE_SCHEMA = {_DATABASE} AND TABLE_TYPE = 'BASE TABLE' {NAMES}",
        database,
        wanted,
    ):
        if keep(name):
            tables[name] = {
                "comment": comment or None,
                "collation": collation,
                "engine": engine,
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
        f"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {_DATABASE} {NAMES}"
        "ORDER BY TABLE_NAME, ORDINAL_POSITION",
        database,
        wanted,
    ):
        if row[0] in tables:
            tables[row[0]]["columns"].append(_mysql_column(conn.dialect, row, tables[row[0]]))
    for table, index, *part in _mysql_rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE "
        f"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = {_DATABASE} {NAMES}"
        "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        database,
        wanted,
    ):
        if table in tables:
            tables[table]["indexes"][index].append(part)
    rules = {
        (table, name): (delete, update)
        for table, name, delete, update in _mysql_rows(
            conn,
            "SELECT TABLE_NAME, CONSTRAINT_NAME, DELETE_RULE, UPDATE_RULE "
            "FROM information_schema.REFERENTIAL_CONSTRAINTS "
            f"WHERE CONSTRAINT_SCHEMA = {_DATABASE} {NAMES}",
            database,
            wanted,
        )
    }
    # joined here, not in SQL: MariaDB joins two information_schema views row by row
    for row in _mysql_rows(
        conn,
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA, "
        "REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
        f"WHERE TABLE_SCHEMA = {_DATABASE} AND REFERENCED_TABLE_NAME IS NOT NULL {NAMES}"
        "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        database,
        wanted,
    ):
        if row[0] in tables:
            rule = rules.get((row[0], row[1]), (None, None))
            tables[row[0]]["fks"][row[1]].append((*row[2:], *rule))
    if is_mariadb(conn.dialect):
        # column-level checks (MariaDB's own for JSON columns) are part of the column
        check_sql = (
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE "
            "FROM information_schema.CHECK_CONSTRAINTS "
            f"WHERE CONSTRAINT_SCHEMA = {_DATABASE} AND LEVEL = 'Table' {NAMES}"
        )
        check_column = "TABLE_NAME"
    else:
        check_sql = (
            "SELECT t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE "
            "FROM information_schema.CHECK_CONSTRAINTS c "
            "JOIN information_schema.TABLE_CONSTRAINTS t "
            "ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA "
            "AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME AND t.CONSTRAINT_TYPE = 'CHECK' "
            f"WHERE c.CONSTRAINT_SCHEMA = {_DATABASE} {NAMES}"
        )
        check_column = "t.TABLE_NAME"
    for table, name, clause in _mysql_rows(conn, check_sql, database, wanted, check_column):
        if table in tables:
            tables[table]["checks"].append(Check(name, clause))
    quote = conn.dialect.identifier_preparer.quote
    return [_mysql_table(name, schema, database, info, quote) for name, info in tables.items()]


def _mysql_table(
    name: str, schema: str | None, database: str, info: dict[str, Any], quote: Any
) -> Table:
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
        unique = not int(parts[0][0])
        if not unique and (index_name, columns) in implicit:
            continue
        indexes.append(_mysql_index(index_name, parts, unique, quote))
    return Table(
        name=name,
        columns=tuple(info["columns"]),
        schema=schema,
        primary_key=primary_key,
        indexes=tuple(indexes),
        foreign_keys=tuple(fks),
        checks=tuple(info["checks"]),
        comment=info["comment"],
        options=(("mysql_engine", info["engine"]),) if info["engine"] else (),
    )


def _mysql_index(name: str, parts: list[Any], unique: bool, quote: Any) -> Index:
    """A FULLTEXT or SPATIAL index as `mysql_prefix` says it, a descending column as the
    expression `col DESC` (as a model writes `sa.desc(col)`); a SPATIAL index's key
    length is the server's own, not a prefix."""
    kind = parts[0][4]
    entries, expressions, lengths = [], [], {}
    for _, column, sub_part, collation, _ in parts:
        entry = column if collation != "D" else f"{quote(column)} DESC"
        entries.append(entry)
        if collation == "D":
            expressions.append(entry)
        if sub_part is not None and kind != "SPATIAL":
            lengths[column] = int(sub_part)
    options: list[tuple[str, Any]] = [("mysql_length", lengths)] if lengths else []
    if kind in ("FULLTEXT", "SPATIAL"):
        options.append(("mysql_prefix", kind))
    return Index(name, tuple(entries), unique, tuple(sorted(options)), tuple(expressions))


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
        persisted=("stored generated" in extra) if computed else None,
    )


def _mysql_type(
    dialect: sa.engine.Dialect,
    column_type: str,
    charset: str | None,
    collation: str | None,
    table_collation: str | None,
) -> sa.types.TypeEngine[Any]:
    """COLUMN_TYPE as the type SQLAlchemy reflects from SHOW CREATE TABLE, which states
    the character set and collation of a column whose collation is not the table's.

    Parsed once per distinct spelling (a schema has few); types that attach themselves
    to a table (enums, sets, booleans) are copied for each column."""
    if collation == table_collation:
        charset = collation = table_collation = None
    type_ = _parsed_type(dialect, column_type, charset, collation)
    return copy.copy(type_) if isinstance(type_, SchemaEventTarget) else type_


@functools.lru_cache(maxsize=1024)
def _parsed_type(
    dialect: sa.engine.Dialect, column_type: str, charset: str | None, collation: str | None
) -> sa.types.TypeEngine[Any]:
    # lazy: SQLAlchemy's MySQL types, imported where a MySQL column type is read
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
    if collation:
        kwargs["charset"] = charset
        kwargs["collate"] = collation
    result: sa.types.TypeEngine[Any] = type_class(*args, **kwargs)
    return result


def mysql_sequences(conn: sa.Connection, schema: str | None) -> list[Sequence]:
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
            sequence(names[i], schema, start, increment, minvalue, maxvalue, cycle, low, top)
        )
    return found
