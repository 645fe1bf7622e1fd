"""How many bytes a column takes in an InnoDB index key, for the 3072-byte limit.

Measured on MariaDB 10.11 (the sum of the parts, each as below, against 3072; neither
NULL nor the length of a VARCHAR counts): a string of n characters takes n times the
most bytes a character of its character set takes (`utf8mb4` 4, `utf8mb3` 3, `latin1`
1), or the prefix's characters when the index names one (`mysql_length`); a binary
string its bytes; the other types their fixed size. The character set is the column's
(`CHARACTER SET`, or its `COLLATE`'s), else the table's (`mysql_charset`,
`mysql_collate`), else the server's default, taken as utf8mb4 (`DEFAULT_CHARSET`).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from dbshift.dialects.base import type_sql
from dbshift.dialects.mysql.charsets import CHARSET_BYTES, DEFAULT_CHARSET
from dbshift.schema.snapshot import Column, Table

_TYPE = re.compile(r"^(NATIONAL )?(\w+)(?:\(([^)]*)\))?(.*)$", re.DOTALL)
_FIXED = {
    "TINYINT": 1,
    "BOOL": 1,
    "BOOLEAN": 1,
    "SMALLINT": 2,
    "MEDIUMINT": 3,
    "INT": 4,
    "INTEGER": 4,
    "BIGINT": 8,
    "FLOAT": 4,
    "REAL": 8,
    "DOUBLE": 8,
    "DATE": 3,
    "YEAR": 1,
    "UUID": 16,
    "INET4": 4,
    "INET6": 16,
    "ENUM": 1,
    "SET": 1,
}
#: the types with fractional seconds: their size without, and the fraction's bytes
#: for each two digits of it
_TEMPORAL = {"DATETIME": 5, "TIMESTAMP": 4, "TIME": 3}
_STRINGS = {"CHAR", "VARCHAR", "NCHAR", "NVARCHAR"}
_BINARIES = {"BINARY", "VARBINARY"}
_LOBS = {"TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT", "TINYBLOB", "BLOB", "MEDIUMBLOB"}
_LOBS |= {"LONGBLOB", "JSON"}
#: a packed DECIMAL: 4 bytes per 9 digits, and these for the digits left over
_LEFTOVER = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)


def key_part_bytes(
    table: Table, column: Column, prefix: int | None, dialect: Dialect
) -> int | None:
    """The bytes `column` takes in a key (its first `prefix` characters when given);
    None for a type of unknown size, or a TEXT/BLOB indexed without a prefix (MariaDB
    picks one)."""
    try:
        sql = type_sql(dialect, column.type)
    except sa.exc.CompileError:
        return None  # a type the backend has no DDL for, refused as such
    match = _TYPE.match(sql.strip())
    if match is None:
        return None
    national, name, args, rest = match.groups()
    name = name.upper()
    numbers = [int(n) for n in re.findall(r"\d+", args or "")]
    if name in _STRINGS:
        if not numbers:
            return None
        characters = min(numbers[0], prefix) if prefix else numbers[0]
        per = 3 if national or name.startswith("N") else _charset_bytes(rest, table)
        return None if per is None else characters * per
    if name in _BINARIES:
        return (min(numbers[0], prefix) if prefix else numbers[0]) if numbers else None
    if name in _LOBS:
        if not prefix:
            return None
        per = 1 if name.endswith("BLOB") else _charset_bytes(rest, table)
        return None if per is None else prefix * per
    if name in _TEMPORAL:
        digits = numbers[0] if numbers else 0
        return _TEMPORAL[name] + (digits + 1) // 2
    if name in ("DECIMAL", "NUMERIC", "DEC", "FIXED"):
        precision, scale = [*numbers, 0][:2] if numbers else [10, 0]
        return _packed(precision - scale) + _packed(scale)
    if name == "BIT":
        return (numbers[0] + 7) // 8 if numbers else 1
    if name == "FLOAT" and numbers and numbers[0] > 24:
        return 8
    return _FIXED.get(name)


def _packed(digits: int) -> int:
    return digits // 9 * 4 + _LEFTOVER[digits % 9]


def _charset_bytes(attributes: str, table: Table) -> int | None:
    """The most bytes a character takes in the column's character set: its own, else
    its collation's, else the table's, else the default."""
    found = re.search(r"CHARACTER SET (\w+)", attributes, re.IGNORECASE)
    if found is None:
        found = re.search(r"COLLATE [`\"']?(\w+)", attributes, re.IGNORECASE)
    charset = _charset_of(found.group(1)) if found is not None else None
    if charset is None:
        charset = _table_charset(dict(table.options))
    return CHARSET_BYTES.get(charset or DEFAULT_CHARSET)


def _charset_of(name: str) -> str | None:
    """The character set a name of a set or a collation stands for (None: a collation
    of several sets, such as MariaDB's `uca1400_ai_ci`)."""
    name = name.lower()
    if name in CHARSET_BYTES:
        return name
    known = [c for c in CHARSET_BYTES if name.startswith(f"{c}_")]
    return max(known, key=len) if known else None


def _table_charset(options: dict[str, Any]) -> str | None:
    """The table's character set from its options (`mysql_charset`, `mysql_default
    charset`, `mysql_collate`, the `mariadb_` ones likewise)."""
    found: dict[str, str] = {}
    for key, value in options.items():
        owner, _, word = key.partition("_")
        if owner not in ("mysql", "mariadb") or not isinstance(value, str):
            continue
        word = word.lower().replace(" ", "_").removeprefix("default_")
        if word in ("charset", "character_set"):
            found["charset"] = value
        elif word == "collate":
            found["collate"] = value
    if "charset" in found:
        return _charset_of(found["charset"])
    return _charset_of(found["collate"]) if "collate" in found else None
