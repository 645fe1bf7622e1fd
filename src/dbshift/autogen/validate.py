"""Models no database can create, and model sets that are surely a mistake, refused
before `make` writes anything.

A model the backend refuses (an index over no column, a foreign key to columns that are
not unique on PostgreSQL, two indexes of one name in a PostgreSQL schema, a name too
long for MariaDB, ...) would give a migration that fails at upgrade, on MariaDB after
part of it ran. The limits are the backend's (`dialects/limits.py`); this module only
walks the target snapshot. `make`, `make --check`, `check` and `diff` all build that
snapshot through `autogen.models_snapshot`, so all of them refuse alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.dialects import backend_for
from dbshift.dialects.base import type_sql
from dbshift.dialects.limits import Kind, SchemaLimits
from dbshift.dialects.normalize import public_attributes
from dbshift.errors import UsageError
from dbshift.ops import DropTable, Operation
from dbshift.schema.models import compile_error
from dbshift.schema.snapshot import ForeignKey, Index, Snapshot, Table, table_key

#: a problem: the message, and the hint
Problem = tuple[str, str]

_KIND_WORDS: dict[str, str] = {
    "table": "table",
    "sequence": "sequence",
    "enum": "enum type",
    "index": "index",
    "unique": "unique constraint",
    "primary_key": "primary key",
    "foreign_key": "foreign key",
    "check": "check constraint",
}


def validate_models(snapshot: Snapshot, limits: SchemaLimits, dialect: Dialect) -> None:
    """Raise a `UsageError` (exit 2) for the first thing in `snapshot` that the backend
    (`dialect`, with its `limits`) cannot create."""
    problems = list(_problems(snapshot, limits, dialect))
    if problems:
        message, hint = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise UsageError(message + more, hint=hint)


def _problems(snapshot: Snapshot, limits: SchemaLimits, dialect: Dialect) -> Iterator[Problem]:
    backend = limits.backend
    tables = [snapshot.tables[key] for key in sorted(snapshot.tables)]
    writable: set[Any] = set()  # the types that compiled, by class and attributes
    for table in tables:
        yield from _table_problems(snapshot, table, limits, dialect, writable)
        yield from _long_names(table, limits, backend)
    yield from _duplicate_names(snapshot, tables, limits, backend)


def _table_problems(
    snapshot: Snapshot, table: Table, limits: SchemaLimits, dialect: Dialect, writable: set[Any]
) -> Iterator[Problem]:
    backend = limits.backend
    where = f"table {table.name!r}"
    if limits.tables_need_columns and not table.columns:
        yield (
            f"{where} has no columns: {backend} refuses a table without columns",
            "give the table a column, or leave it out of the models",
        )
    yield from _type_problems(table, backend, dialect, writable)
    yield from _collation_problems(table, limits)
    yield from _key_length_problems(table, limits, dialect)
    for index in table.indexes:
        if not index.columns:
            yield (
                f"{where}: index {index.name!r} has no columns: no database creates it",
                f"give it columns, e.g. sa.Index({index.name!r}, table.c.name)",
            )
    for fk in table.foreign_keys:
        yield from _foreign_key_problems(snapshot, table, fk, limits, dialect)


def _type_problems(
    table: Table, backend: str, dialect: Dialect, writable: set[Any]
) -> Iterator[Problem]:
    """Column types the backend has no DDL for (`JSONB` on MariaDB, a `VARCHAR` without
    a length on MySQL): `create_all` fails on them, and so would the migration."""
    for column in table.columns:
        error = _compile_error(dialect, column.type, writable)
        if error is not None:
            yield (
                f"table {table.name!r}: column {column.name!r}: {backend} cannot store "
                f"{column.type!r}: {error}",
                "give the column a type this backend has (a `with_variant` for it, or a "
                "`TypeDecorator` whose load_dialect_impl picks one), or leave the backend out",
            )


def _collation_problems(table: Table, limits: SchemaLimits) -> Iterator[Problem]:
    """Column collations the backend has not (`utf8mb3_bin` on PostgreSQL or SQLite,
    `NOCASE` on MariaDB): CREATE TABLE fails on them."""
    for column in table.columns:
        collation = getattr(column.type, "collation", None)
        if not isinstance(collation, str):
            continue
        own, foreign = limits.collations, limits.foreign_collations
        if (own is not None and collation in own) or (own is None and collation not in foreign):
            continue
        yield (
            f"table {table.name!r}: column {column.name!r}: collation {collation!r} is not "
            f"one {limits.backend} has: it refuses it",
            "give the collation only where the backend has it (e.g. "
            "`sa.String(250).with_variant(sa.String(250, collation=...), 'mysql', "
            "'mariadb')`), or leave it out",
        )


def _key_length_problems(table: Table, limits: SchemaLimits, dialect: Dialect) -> Iterator[Problem]:
    """Keys longer than the backend builds (InnoDB's 3072 bytes, where four utf8mb4
    VARCHAR(250) columns take 4000), counting only the parts whose size is known; the
    longer keys the server keeps otherwise (`long_keys_kept`) are let through."""
    limit = limits.key_bytes
    if limit is None:
        return
    backend = backend_for(dialect)
    keys: list[tuple[str, Kind, tuple[str, ...], dict[str, int]]] = []
    if table.primary_key is not None:
        keys.append((_pk_words(table), "primary_key", table.primary_key.columns, {}))
    for unique in table.uniques:
        words = f"unique constraint {unique.name!r}" if unique.name else "unique constraint"
        keys.append((f"{words} ({', '.join(unique.columns)})", "unique", unique.columns, {}))
    for index in table.indexes:
        options = dict(index.options)
        if str(options.get("mysql_prefix") or options.get("mariadb_prefix") or "").upper() in (
            "FULLTEXT",
            "SPATIAL",
        ):
            continue
        columns = tuple(c for c in index.columns if c not in index.expressions)
        kind: Kind = "unique" if index.unique else "index"
        keys.append((f"index {index.name!r}", kind, columns, _prefixes(index)))
    for words, kind, columns, prefixes in keys:
        parts = [(c, table.column(c)) for c in columns]
        sizes = [
            (name, backend.key_part_bytes(table, column, prefixes.get(name), dialect))
            for name, column in parts
            if column is not None
        ]
        total = sum(size for _, size in sizes if size is not None)
        if total <= limit or _kept(kind, len(columns), limits):
            continue
        counted = ", ".join(f"{name} {size}" for name, size in sizes if size is not None)
        yield (
            f"table {table.name!r}: {words} is a key of {total} bytes ({counted}), longer "
            f"than the {limit} bytes {limits.backend} allows: it refuses it",
            "index fewer or shorter columns, or a prefix of the long ones "
            "(mysql_length={'column': n}), or give the columns a character set of fewer "
            "bytes per character (mysql_charset= on the table, or a collation in a "
            "with_variant for mysql/mariadb); a column naming no character set is taken "
            "as utf8mb4, 4 bytes per character",
        )


def _pk_words(table: Table) -> str:
    assert table.primary_key is not None
    name = f" {table.primary_key.name!r}" if table.primary_key.name else ""
    return f"primary key{name} ({', '.join(table.primary_key.columns)})"


def _prefixes(index: Index) -> dict[str, int]:
    """The prefix length of each column the index takes a prefix of (`mysql_length`)."""
    options = dict(index.options)
    length = options.get("mysql_length", options.get("mariadb_length"))
    if isinstance(length, int):
        return dict.fromkeys(index.columns, length)
    if isinstance(length, dict):
        return {str(k): v for k, v in length.items() if isinstance(v, int)}
    return {}


def _kept(kind: Kind, parts: int, limits: SchemaLimits) -> bool:
    """Whether the server builds a key of `kind` over `parts` columns even when it is
    longer than its limit (MariaDB: a unique one as a hash, a one-column index cut)."""
    kept = limits.long_keys_kept
    if kind == "unique":
        return "unique" in kept
    return kind == "index" and parts == 1 and "one_column_index" in kept


def _compile_error(dialect: Dialect, type_: TypeEngine[Any], writable: set[Any]) -> str | None:
    """Why `dialect` cannot write `type_`, or None; types that compiled once are
    remembered in `writable` by class and attributes (a schema has few distinct types)."""
    try:
        key: Any = (type(type_), public_attributes(type_))
        if key in writable:
            return None
    except TypeError:  # unhashable attributes (enum values, ...)
        key = None
    try:
        type_sql(dialect, type_)
    except sa.exc.CompileError as error:
        return compile_error(error)
    if key is not None:
        writable.add(key)
    return None


def _foreign_key_problems(
    snapshot: Snapshot, table: Table, fk: ForeignKey, limits: SchemaLimits, dialect: Dialect
) -> Iterator[Problem]:
    backend = limits.backend
    if not limits.foreign_key_target_exists or fk.ref_schema not in (None, table.schema):
        return  # another schema's tables are not in the models
    what = f"table {table.name!r}: foreign key {_fk_name(fk)}"
    if not limits.deferrable_foreign_keys and (fk.deferrable or fk.initially):
        yield (
            f"{what} is DEFERRABLE: {backend} has no deferrable constraints",
            "leave out deferrable= and initially= for this backend",
        )
    target = snapshot.table(fk.ref_table, table.schema)
    if target is None:
        yield (
            f"{what} references table {fk.ref_table!r}, which the models do not define: "
            f"{backend} refuses it",
            "add the table to the models (import the module that defines it), "
            "or drop the foreign key",
        )
        return
    names = {c.name for c in target.columns}
    missing = [c for c in fk.ref_columns if c not in names]
    if missing:
        yield (
            f"{what} references {fk.ref_table}.{missing[0]}, which does not exist: "
            f"{backend} refuses it",
            f"reference a column of {fk.ref_table!r}",
        )
        return
    if limits.foreign_key_integers_match:
        for column, ref_column in zip(fk.columns, fk.ref_columns, strict=False):
            mine, theirs = table.column(column), target.column(ref_column)
            if mine is None or theirs is None:
                continue
            kinds = _integer(type_sql(dialect, mine.type)), _integer(type_sql(dialect, theirs.type))
            if None not in kinds and kinds[0] != kinds[1]:
                yield (
                    f"{what}: column {column!r} is {kinds[0]} but {fk.ref_table}.{ref_column} "
                    f"is {kinds[1]}: {backend} refuses a foreign key between integers of "
                    "different size or sign",
                    f"give {column!r} the type of {fk.ref_table}.{ref_column}",
                )
    referenced = f"{fk.ref_table} ({', '.join(fk.ref_columns)})"
    if limits.foreign_key_target == "unique" and not _is_unique(target, fk.ref_columns):
        yield (
            f"{what} references {referenced}, which is neither its primary key nor unique: "
            f"{backend} refuses it",
            f"add a unique constraint on {referenced}, or reference its primary key",
        )
    if limits.foreign_key_target == "indexed" and not _is_indexed(target, fk.ref_columns):
        yield (
            f"{what} references {referenced}, which no key or index of {fk.ref_table!r} "
            f"starts with: {backend} refuses it",
            f"add an index or a unique constraint on {referenced}, or reference its primary key",
        )


_INTEGER = re.compile(
    r"^(TINYINT|SMALLINT|MEDIUMINT|INTEGER|INT|BIGINT|BOOL|BOOLEAN)\b(?:\(\d+\))?( UNSIGNED)?",
    re.IGNORECASE,
)
#: what the server stores each spelling as (MariaDB: BOOL is TINYINT(1))
_INTEGER_NAMES = {"INT": "INTEGER", "BOOL": "TINYINT", "BOOLEAN": "TINYINT"}


def _integer(sql: str) -> str | None:
    """An integer type as the server stores it (`BIGINT UNSIGNED`; display widths do
    not count), or None for any other type."""
    match = _INTEGER.match(sql)
    if match is None:
        return None
    name = match.group(1).upper()
    return _INTEGER_NAMES.get(name, name) + (" UNSIGNED" if match.group(2) else "")


def _fk_name(fk: ForeignKey) -> str:
    return repr(fk.name) if fk.name else f"({', '.join(fk.columns)})"


def _is_unique(table: Table, columns: Sequence[str]) -> bool:
    """Whether `columns` are exactly a primary key, unique constraint or plain unique
    index of `table` (in any order), as PostgreSQL demands of a foreign key's target."""
    wanted = sorted(columns)
    keys = [u.columns for u in table.uniques]
    keys += [
        i.columns
        for i in table.indexes
        if i.unique and not i.expressions and not any(k.endswith("_where") for k, _ in i.options)
    ]
    if table.primary_key is not None:
        keys.append(table.primary_key.columns)
    return any(sorted(key) == wanted for key in keys)


def _is_indexed(table: Table, columns: Sequence[str]) -> bool:
    """Whether some index of `table` starts with `columns`, in order, as InnoDB demands
    of a foreign key's target (a table's own foreign keys get an index each)."""
    keys = [u.columns for u in table.uniques] + [f.columns for f in table.foreign_keys]
    keys += [i.columns for i in table.indexes if not i.expressions]
    if table.primary_key is not None:
        keys.append(table.primary_key.columns)
    return any(tuple(key[: len(columns)]) == tuple(columns) for key in keys)


def _long_names(table: Table, limits: SchemaLimits, backend: str) -> Iterator[Problem]:
    """Names longer than the backend takes. Names a naming convention made arrive here
    already cut as SQLAlchemy cuts them (`schema/models.py`)."""
    limit = limits.identifier_length
    if limit is None:
        return
    named: list[tuple[str, str]] = [("table", table.name)]
    named += [("column", c.name) for c in table.columns]
    named += [("index", i.name) for i in table.indexes]
    named += [("constraint", n) for n in _constraint_names(table)]
    unit = "bytes" if limits.identifier_in_bytes else "characters"
    for kind, name in named:
        if len(name.encode() if limits.identifier_in_bytes else name) <= limit:
            continue
        yield (
            f"table {table.name!r}: {kind} name {name!r} is longer than the {limit} "
            f"{unit} {backend} allows: it {limits.long_names}",
            "give it a shorter name",
        )


def _constraint_names(table: Table) -> list[str]:
    names = [u.name for u in table.uniques] + [f.name for f in table.foreign_keys]
    names += [c.name for c in table.checks]
    names.append(table.primary_key.name if table.primary_key is not None else None)
    return [n for n in names if n]


def _named(table: Table) -> Iterator[tuple[Kind, str]]:
    """Every name a table gives to something but itself, with its kind."""
    for index in table.indexes:
        yield "index", index.name
    for unique in table.uniques:
        if unique.name:
            yield "unique", unique.name
    for fk in table.foreign_keys:
        if fk.name:
            yield "foreign_key", fk.name
    for check in table.checks:
        if check.name:
            yield "check", check.name
    if table.primary_key is not None and table.primary_key.name:
        yield "primary_key", table.primary_key.name


def _duplicate_names(
    snapshot: Snapshot, tables: Sequence[Table], limits: SchemaLimits, backend: str
) -> Iterator[Problem]:
    """Names that clash within one of the backend's name scopes (each clash once)."""
    # tables first: an index that takes a table's name is the one reported
    named: list[tuple[str | None, str, Kind, str]] = [
        (table.schema, table.name, "table", table.name) for table in tables
    ]
    named += [
        (table.schema, table.name, kind, name) for table in tables for kind, name in _named(table)
    ]
    named += [(s.schema, "", "sequence", s.name) for s in snapshot.sequences.values()]
    named += [(e.schema, "", "enum", e.name) for e in snapshot.enums.values()]
    reported: set[int] = set()
    for scope in limits.name_scopes:
        seen: dict[tuple[str | None, str, str], int] = {}
        for position, (schema, table, kind, name) in enumerate(named):
            if kind not in scope.kinds:
                continue
            group = (schema, table if scope.per == "table" else "", name)
            first = seen.setdefault(group, position)
            if first == position or position in reported:
                continue
            reported.add(position)
            yield (
                f"{_subject(table, kind, name)} has the name of {_other(*named[first][1:3])}: "
                f"{backend} refuses the same name twice in one {scope.per}",
                "rename one of them",
            )


def _subject(table: str, kind: Kind, name: str) -> str:
    if kind == "table" or not table:
        return f"{_KIND_WORDS[kind]} {name!r}"
    return f"table {table!r}: {_KIND_WORDS[kind]} {name!r}"


def _other(table: str, kind: Kind) -> str:
    words = _KIND_WORDS[kind]
    article = "an" if words[0] in "aeiou" else "a"
    if kind == "table" or not table:
        return f"{article} {words}"
    return f"{article} {words} of table {table!r}"


def refuse_dropping_everything(current: Snapshot, operations: Sequence[Operation]) -> None:
    """Raise a `UsageError` when `operations` drop every table of a non-empty schema:
    almost always models that were not imported, rarely what anyone means."""
    dropped = {table_key(op.name, op.schema) for op in operations if isinstance(op, DropTable)}
    if not current.tables or not set(current.tables) <= dropped:
        return
    names = sorted(current.tables)
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise UsageError(
        f"the models would drop every table of the current schema ({len(names)}: {shown})",
        hint="check that `models` imports every module that defines a model; "
        "pass --allow-drop-all (allow_drop_all=True) if dropping them all is meant",
    )
