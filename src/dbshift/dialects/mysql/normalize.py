"""How MariaDB and MySQL spell what they store (see `dbshift.dialects.normalize`)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeEngine, UserDefinedType

from dbshift.dialects.mysql.charsets import CHARSET_BYTES
from dbshift.dialects.mysql.flavour import is_mariadb
from dbshift.dialects.mysql.rules import implicit_index_name
from dbshift.dialects.normalize import Normalizer
from dbshift.schema.snapshot import Check, ForeignKey, Index, Table

#: the largest value, in bytes, of each size of BLOB and TEXT
_SIZES = ((255, "TINY"), (65535, ""), (16777215, "MEDIUM"))
#: bytes per character of the character sets a length can be multiplied by
_MAXLEN = CHARSET_BYTES
#: the attributes that may follow a MySQL type, as the DDL compiler writes them
_ATTRIBUTES = re.compile(
    r"(?: (?:UNSIGNED|ZEROFILL|BINARY|ASCII|UNICODE|CHARACTER SET \w+|COLLATE \w+))*$"
)
_BASE = re.compile(r"^(NATIONAL )?(\w+(?: PRECISION)?)(?:\((.*)\))?$", re.DOTALL)
_SIZED = {"BLOB", "TEXT"}
_TEXTS = {f"{size}TEXT" for _, size in (*_SIZES, (0, "LONG"))}


def _smallest(family: str, size: int) -> str:
    """The type MariaDB/MySQL creates for `BLOB(size)` or a TEXT of `size` bytes: the
    smallest that holds it."""
    return next((f"{s}{family}" for top, s in _SIZES if size <= top), f"LONG{family}")


def _encoding(attributes: list[str], national: bool) -> tuple[str | None, str | None]:
    """The character set and collation a type's attributes state (a collation names its
    set, so then only the collation). `utf8` is MariaDB's (and MySQL 8's) `utf8mb3`;
    NATIONAL is utf8mb3, ASCII latin1, UNICODE ucs2."""
    charset = collation = None
    for i, word in enumerate(attributes):
        if word == "SET" and attributes[i - 1] == "CHARACTER":
            charset = attributes[i + 1].lower()
        elif word == "COLLATE":
            collation = re.sub(r"^utf8_", "utf8mb3_", attributes[i + 1].lower())
    for given, implied in (("ASCII", "latin1"), ("UNICODE", "ucs2")):
        if given in attributes:
            charset = implied
    if national:
        charset = "utf8mb3"
    if collation is not None:
        return None, collation
    return ("utf8mb3" if charset == "utf8" else charset), None


class MySQLNormalizer(Normalizer):
    """MariaDB and MySQL rewrite much of what they are given: `BLOB(100)` is stored as
    TINYBLOB, `NUMERIC` as `DECIMAL(10,0)`, `REAL` as DOUBLE, `NATIONAL CHAR(3)` as
    `CHAR(3) CHARACTER SET utf8mb3`. Types are canonical in what the server stores (the
    `COLUMN_TYPE` of `information_schema.COLUMNS`), character set and collation after it.

    Two things a type's text alone cannot settle, `same_type` settles loosely: a
    `TEXT(n)` without a character set (its size depends on the table's character set,
    counted in characters), and a character set or collation on one side only (the
    server reports none for a column with the table's collation, and the table's
    collation is not in the snapshot)."""

    _WIDTH = re.compile(r"^(TINYINT|SMALLINT|MEDIUMINT|INT|INTEGER|BIGINT)\(\d+\)")
    _ALIASES = {
        "BOOL": "TINYINT(1)",
        "BOOLEAN": "TINYINT(1)",
        "INTEGER": "INT",
        "REAL": "DOUBLE",
        "DOUBLE PRECISION": "DOUBLE",
        "NUMERIC": "DECIMAL",
        "DEC": "DECIMAL",
        "FIXED": "DECIMAL",
    }
    #: a type without arguments, and the arguments the server gives it
    _IMPLIED = {"DECIMAL": "10,0", "CHAR": "1", "BINARY": "1", "BIT": "1"}

    @property
    def _mariadb(self) -> bool:
        return is_mariadb(self.dialect)

    def type_alias(self, text: str) -> str:
        start = _ATTRIBUTES.search(text)
        attributes = text[start.start() if start else len(text) :].split()
        base = _BASE.match(text[: start.start()] if start else text)
        if base is None:
            return text
        national, name, args = base.groups()
        name = self._ALIASES.get(name, name)
        flags = {a for a in attributes if a in ("UNSIGNED", "ZEROFILL", "BINARY")}
        charset, collation = _encoding(attributes, bool(national))
        if "ZEROFILL" in flags:
            flags.add("UNSIGNED")
        if name == "JSON" and self._mariadb:
            # MariaDB's JSON is LONGTEXT with a json_valid() check, binary collated
            name, collation = "LONGTEXT", "utf8mb4_bin"
        if args is None and name in self._IMPLIED:
            args = self._IMPLIED[name]
        if name == "DECIMAL" and args is not None and "," not in args:
            args += ",0"
        if name == "YEAR" and args == "4":
            args = None
        if name == "FLOAT" and args is not None and args.isdigit():
            name, args = ("FLOAT" if int(args) <= 24 else "DOUBLE"), None
        text = name if args is None else f"{name}({args})"
        if text != "TINYINT(1)":  # BOOLEAN; other display widths mean nothing
            text = self._WIDTH.sub(r"\1", text)
        if name in _SIZED and args is not None and args.isdigit():
            known = _MAXLEN.get((charset or (collation or "").split("_")[0]) or "")
            if name == "BLOB" or known is not None:
                text = _smallest(name, int(args) * (known or 1))
        if "BINARY" in flags and collation is None:
            collation = "*_bin"  # the binary collation of the column's character set
        flags.discard("BINARY")
        text += "".join(f" {f}" for f in sorted(flags))
        if collation is not None:
            return f"{text} COLLATE {collation}"
        return f"{text} CHARACTER SET {charset}" if charset is not None else text

    def same_type(self, old: TypeEngine[Any], new: TypeEngine[Any]) -> bool:
        a, b = self.type(old), self.type(new)
        if a == b:
            return True
        (type_a, encoding_a), (type_b, encoding_b) = _encoded(a), _encoded(b)
        if encoding_a and encoding_b and not _same_encoding(encoding_a, encoding_b):
            return False
        return type_a == type_b or _fits(type_a, type_b) or _fits(type_b, type_a)

    def default(self, text: str | None, type_: TypeEngine[Any] | None = None) -> str | None:
        """`DEFAULT false` is stored as 0, `true` as 1."""
        text = super().default(text, type_)
        return {"false": "0", "true": "1"}.get(text or "", text)

    def fk_action(self, action: str | None) -> str | None:
        action = super().fk_action(action)
        return None if action == "RESTRICT" else action

    def table_option(self, key: str, value: Any) -> Any:
        # the server's default engine is its own setting: compared only when stated
        return str(value).lower() if key == "mysql_engine" and value is not None else None

    index_prefix = "mysql_"

    def owned_check(self, check: Check, table: Table) -> bool:
        """MariaDB's `json_valid()` check of a JSON column belongs to the type."""
        column = table.column(check.name or "")
        return column is not None and self.sql(check.sqltext) == f"json_valid{column.name.lower()}"

    def owned_index(self, index: Index, table: Table) -> bool:
        """A unique index is the model's unique constraint; the index InnoDB made for a
        foreign key (named after the key, or after its first column when the server
        named the key) belongs to the key. An index named otherwise is the project's,
        and dropping it works even when it is the last one a key can use (see
        `MySQLRules.drop_index`)."""
        if index.unique:
            return any(u.columns == index.columns for u in table.uniques)
        return any(
            index.columns[: len(fk.columns)] == fk.columns
            and (
                index.name in (fk.name, implicit_index_name(table.name, fk))
                or _numbered(index, table.name, fk)
            )
            for fk in table.foreign_keys
        )

    def index_option(self, name: str, value: Any, index: Index, table: Table) -> Any:
        """`mysql_using` is left out: InnoDB builds a B-tree whatever is asked for, and
        `information_schema` reports what it built. A prefix length given as a number
        applies to every column, which is how the server reports it; a prefix the server
        keeps as none (the whole of a CHAR/VARCHAR, or on a column that is no string) is
        left out."""
        if name == "mysql_using":
            return None
        if name == "mysql_prefix" and isinstance(value, str):
            return value.upper()
        if name == "mysql_length" and isinstance(value, int):
            value = dict.fromkeys(index.columns, value)
        if name == "mysql_length" and isinstance(value, dict):
            value = {c: n for c, n in value.items() if not _kept_as_no_prefix(table, c, n)}
        return super().index_option(name, value, index, table)


def _numbered(index: Index, table: str, fk: ForeignKey) -> bool:
    """Whether `index` is the one InnoDB made for `fk` under its first column's name
    with a number (`user_id_2`), as when a unique key declared before the foreign key
    had the name already; only an index of exactly the key's columns."""
    name = implicit_index_name(table, fk)
    return (
        index.columns == fk.columns
        and re.fullmatch(rf"{re.escape(name)}_\d+", index.name) is not None
    )


def _kept_as_no_prefix(table: Table, name: str, prefix: Any) -> bool:
    """Whether the server keeps a prefix of `prefix` on column `name` as no prefix: it
    covers all of a CHAR/VARCHAR/BINARY/VARBINARY, or the column is no string at all
    (MariaDB takes `DATETIME(6)` with a prefix and ignores it; dagster's models do so)."""
    column = table.column(name)
    if column is None or not isinstance(prefix, int):
        return False
    type_ = column.type
    if isinstance(type_, sqltypes.Text | sqltypes.LargeBinary | UserDefinedType):
        return False  # TEXT and BLOB need their prefix; a type of unknown kind keeps it
    if isinstance(type_, sqltypes.String | sqltypes._Binary):
        return isinstance(type_.length, int) and prefix >= type_.length
    return True


def _encoded(text: str) -> tuple[str, str]:
    """A canonical MySQL type split into the type and its character set or collation."""
    for marker in (" CHARACTER SET ", " COLLATE "):
        if marker in text:
            head, _, name = text.partition(marker)
            return head, f"{marker.strip()} {name}"
    return text, ""


def _same_encoding(a: str, b: str) -> bool:
    """Two collations match exactly (`*_bin` stands for any binary one); a character set
    alone matches any collation of that set."""
    kind_a, _, name_a = a.rpartition(" ")
    kind_b, _, name_b = b.rpartition(" ")
    if kind_a == kind_b == "COLLATE":
        if "*" in (name_a[0], name_b[0]):
            return name_a.endswith("_bin") and name_b.endswith("_bin")
        return name_a == name_b
    return name_a.split("_")[0] == name_b.split("_")[0] or "*" in (name_a[0], name_b[0])


def _fits(sized: str, stored: str) -> bool:
    """Whether the server may have stored `TEXT(n)`, whose character set is unknown, as
    `stored` (it picks the smallest TEXT holding n characters of the table's set)."""
    match = re.fullmatch(r"TEXT\((\d+)\)", sized)
    if match is None or stored not in _TEXTS:
        return False
    n = int(match.group(1))
    return any(_smallest("TEXT", n * k) == stored for k in set(_MAXLEN.values()))
