"""SQL types as written, read into `TypeInfo` with sqlglot: shared by the statement
reader (`dbshift.linter.sqlfacts`) and the word reader (`dbshift.linter.sqlwords`), so
that neither imports the other for them. sqlglot is imported only when a type is read."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import re
from typing import Any

from dbshift.facts import TypeInfo


@functools.lru_cache(maxsize=1)
def sqlglot_module() -> Any:
    # lazy: sqlglot only when linting (status and upgrade never pay for it)
    import sqlglot

    # sqlglot logs a warning for each statement it keeps as a Command; we handle those.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    return sqlglot


def type_from_text(text: str) -> TypeInfo:
    """A PostgreSQL type as written (`bit varying(8)[]`, `timestamp with time zone`):
    through sqlglot's type reader where it knows the type, else `other:<words>`."""
    # lazy: sqlglot only when linting (status and upgrade never pay for it)
    from sqlglot import exp

    base, dimensions = text.strip(), 0
    while (bare := re.sub(r"\[\s*\d*\s*\]\Z", "", base).strip()) != base:
        base, dimensions = bare, dimensions + 1
    sqlglot = sqlglot_module()
    try:  # a cast must consume the whole type (DataType.build stops at `bit`)
        cast = sqlglot.parse_one(f"CAST(NULL AS {base})", read="postgres")
        info = type_from_node(cast.args.get("to") if isinstance(cast, exp.Cast) else None)
    except sqlglot.errors.SqlglotError:
        words = re.sub(r"\(.*\)", "", base).lower().split()
        info = TypeInfo("other:" + " ".join(words))
    return dataclasses.replace(info, array=info.array + dimensions)


SERIALS = ("SERIAL", "BIGSERIAL", "SMALLSERIAL")
#: PostgreSQL's aliases of the serials, which sqlglot reads as user-defined types
_SERIAL_ALIASES = {"serial2": "smallserial", "serial4": "serial", "serial8": "bigserial"}


def builtin_type(node: Any) -> Any:
    """A type sqlglot reads as user-defined that PostgreSQL knows as built in, as the
    built-in type: a `pg_catalog.`-qualified name (`pg_catalog.varchar(100)`) or a
    serial's alias (`serial4`). A quoted `"char"` stays itself: a one-byte type, not
    `char(n)`."""
    # lazy: sqlglot only when linting (status and upgrade never pay for it)
    from sqlglot import exp

    if not isinstance(node, exp.DataType) or node.this != exp.DataType.Type.USERDEFINED:
        return node
    name = str(node.args.get("kind") or "")
    bare = re.sub(r"(?i)\Apg_catalog\.", "", name)
    bare = _SERIAL_ALIASES.get(bare.lower(), bare)
    if bare == name or not bare:
        return node
    params = ", ".join(param.sql(dialect="postgres") for param in node.expressions)
    try:
        built = exp.DataType.build(f"{bare}({params})" if params else bare, dialect="postgres")
    except (sqlglot_module().errors.SqlglotError, ValueError):
        return node
    return node if built.this == exp.DataType.Type.USERDEFINED else built


_TYPE_NAMES = {
    "INT": "integer",
    "UINT": "integer",
    "MEDIUMINT": "integer",
    "SERIAL": "integer",
    "BIGINT": "bigint",
    "UBIGINT": "bigint",
    "BIGSERIAL": "bigint",
    "SMALLINT": "smallint",
    "TINYINT": "smallint",
    "SMALLSERIAL": "smallint",
    "VARCHAR": "varchar",
    "NVARCHAR": "varchar",
    "CHAR": "char",
    "NCHAR": "char",
    "BPCHAR": "char",
    "TEXT": "text",
    "MEDIUMTEXT": "text",
    "LONGTEXT": "text",
    "DECIMAL": "numeric",
    "FLOAT": "float",
    "DOUBLE": "float",
    "TIMESTAMP": "timestamp",
    "DATETIME": "timestamp",
    "TIMESTAMPTZ": "timestamptz",
    "TIMESTAMPLTZ": "timestamptz",
    "DATE": "date",
    "TIME": "time",
    "BOOLEAN": "boolean",
    "ENUM": "enum",
    "SET": "set",
    "JSON": "json",
    "JSONB": "jsonb",
    "UUID": "uuid",
    "BLOB": "binary",
    "VARBINARY": "binary",
}


def type_from_node(node: Any) -> TypeInfo:
    # lazy: sqlglot only when linting (status and upgrade never pay for it)
    from sqlglot import exp

    node = builtin_type(node)
    if not isinstance(node, exp.DataType):
        return TypeInfo("other:unknown")
    if node.this == exp.DataType.Type.ARRAY and node.expressions:  # timestamp[]
        element = type_from_node(node.expressions[0])
        return dataclasses.replace(element, array=element.array + 1)
    name = node.this.name
    canonical = _TYPE_NAMES.get(name, f"other:{name.lower()}")
    if canonical in ("enum", "set"):
        return TypeInfo(canonical, values=tuple(e.name for e in node.expressions))
    params: list[int] = []
    for param in node.expressions:
        value = param.this if isinstance(param, exp.DataTypeParam) else param
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            params.append(int(value.name))
    return TypeInfo(
        canonical,
        params[0] if params else None,
        params[1] if len(params) > 1 else None,
    )
