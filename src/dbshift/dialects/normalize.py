"""How a backend spells what it stores, so that comparing models with a database finds
real differences only.

A model says `Float()`, PostgreSQL reports `DOUBLE PRECISION`; a model says
`server_default="0"`, PostgreSQL reports `0` and MariaDB `'0'`. Each backend's
normalizer maps both sides to one canonical text: types through the dialect's own DDL
compiler plus the aliases the server applies, defaults and SQL fragments through a
small lexical canonical form. Each backend is a small class overriding what differs.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import sqltypes
from sqlalchemy.types import TypeEngine, UserDefinedType

from dbshift.dialects.backends import resolve_type, unhooked_ddl
from dbshift.dialects.mysql import implicit_index_name
from dbshift.dialects.pg_opclasses import DEFAULT_OPCLASSES
from dbshift.schema.snapshot import Check, Index, Table

_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_FLOAT = re.compile(r"FLOAT\((\d+)\)")  # FLOAT(p): single precision up to p = 24
_ASC = re.compile(r"\s+ASC(?=\s+NULLS\b|\s*$)", re.IGNORECASE)
_NOW = re.compile(r"\b(now\(\)|current_timestamp\(\)|current_timestamp|localtimestamp\(\))")


def _outside_quotes(text: str, change: Any) -> str:
    """Apply `change` to the parts of `text` that are not string literals."""
    out, last = [], 0
    for match in _QUOTED.finditer(text):
        out.append(change(text[last : match.start()]))
        out.append(match.group())
        last = match.end()
    out.append(change(text[last:]))
    return "".join(out)


def public_attributes(type_: TypeEngine[Any]) -> tuple[tuple[str, Any], ...]:
    """The attributes a type was built with (a class sets them in one order)."""
    return tuple((k, v) for k, v in vars(type_).items() if k[0] != "_")


def _strip_parens(text: str) -> str:
    """Remove parentheses that wrap the whole expression: `((x > 0))` is `x > 0`."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, char in enumerate(text):
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and i < len(text) - 1:
                return text
        text = text[1:-1].strip()
    return text


class Normalizer:
    """Canonical forms for one backend."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._types: dict[Any, str] = {}

    # -- types -------------------------------------------------------------------------

    def type(self, type_: TypeEngine[Any]) -> str:
        """The type as the server stores it, e.g. `VARCHAR(50)`, `DOUBLE PRECISION`.

        Cached by class and public attributes of the type as it resolves on this
        backend (a variant's mapping and a decorator's `load_dialect_impl` are not
        public attributes): a schema has few distinct types, and compiling one costs
        more than comparing it."""
        type_ = resolve_type(type_, self.dialect, hooks=False)
        try:
            key = (type(type_), public_attributes(type_))
            return self._types[key]
        except TypeError:  # unhashable attributes (enum values, ...): no cache
            return self._type(type_)
        except KeyError:
            text = self._types[key] = self._type(type_)
            return text

    def _type(self, type_: TypeEngine[Any]) -> str:
        try:
            text = unhooked_ddl(type_, self.dialect)  # as the migration writes it
        except Exception:  # a type this dialect cannot compile: compare its repr
            return repr(type_)
        text = _outside_quotes(text, lambda part: re.sub(r"\s+", " ", part.upper()))
        return self.type_alias(text.replace(", ", ",").strip())

    def type_alias(self, text: str) -> str:
        return text

    def same_type(self, old: TypeEngine[Any], new: TypeEngine[Any]) -> bool:
        """Whether a column of type `old` needs no change to be of type `new`."""
        return self.type(old) == self.type(new)

    # -- SQL fragments -------------------------------------------------------------------

    def sql(self, text: str | None) -> str | None:
        """A loose canonical form of an expression (checks, index predicates, index
        expressions): case, spacing, identifier quoting and redundant parentheses do
        not matter."""
        if text is None:
            return None
        text = self.strip_casts(text.strip())
        # an index entry's ASC is the default order: servers do not repeat it
        text = _outside_quotes(text, lambda part: _ASC.sub("", part))

        def loose(part: str) -> str:
            part = re.sub(r'["`\[\]]', "", part.lower())
            return re.sub(r"\s+", "", part)

        return _outside_quotes(text, loose).replace("(", "").replace(")", "")

    def strip_casts(self, text: str) -> str:
        return text

    def default(self, text: str | None, type_: TypeEngine[Any] | None = None) -> str | None:
        """A server default's canonical text; None for no default. `type_`, the
        column's, tells how the server reads a literal (PostgreSQL's boolean `'0'`)."""
        if text is None:
            return None
        text = _strip_parens(self.strip_casts(text.strip()))
        text = _outside_quotes(text, lambda part: re.sub(r"\s+", " ", part.lower()))
        if text in ("null", ""):
            return None
        if text.startswith("'") and text.endswith("'") and _NUMBER.fullmatch(text[1:-1]):
            text = text[1:-1]
        if _NUMBER.fullmatch(text) and "." in text:
            text = text.rstrip("0").rstrip(".")
        return _NOW.sub("current_timestamp", text)

    def fk_action(self, action: str | None) -> str | None:
        action = action.upper() if action else None
        return None if action in (None, "NO ACTION") else action

    def table_option(self, key: str, value: Any) -> Any:
        """A table option's canonical value (`value` None when not stated), or None when
        this backend does not compare `key`: either side not stating it, or an option
        whose introspection is not read back."""
        return None

    #: the prefix of the index keywords this backend reads (`postgresql_where`, ...)
    index_prefix = "-"

    def owned_index(self, index: Index, table: Table) -> bool:
        """Whether a database index the models lack belongs to something they have."""
        return False

    #: whether unique constraints are unique indexes (MySQL has no other kind)
    unique_indexes = False
    #: whether the server keeps one of several unique constraints on the same columns
    #: (PostgreSQL's CREATE TABLE does, the first name given winning)
    merges_duplicate_uniques = False

    def owned_check(self, check: Check, table: Table) -> bool:
        """Whether a database check belongs to a column's type rather than the models."""
        return False

    def index_option(self, name: str, value: Any, index: Index, table: Table) -> Any:
        """An index keyword's value as the server keeps it for `index` of `table`,
        comparable; None when the keyword is another backend's or makes no difference
        here."""
        if not name.startswith(self.index_prefix) or value in (None, "", {}, [], ()):
            return None
        if name.endswith("_where"):
            return self.sql(str(value))
        if isinstance(value, list):  # a model's list, read back as a tuple
            return tuple(value)
        return sorted(value.items()) if isinstance(value, dict) else value

    #: whether the server keeps comments
    comments = True
    #: whether foreign keys can be DEFERRABLE
    deferrable = False


def _opclass(name: str) -> str:
    """An operator class's name without quotes and without `pg_catalog.`."""
    name = name.replace('"', "").lower()
    return name.removeprefix("pg_catalog.")


class PostgreSQLNormalizer(Normalizer):
    deferrable = True
    merges_duplicate_uniques = True
    index_prefix = "postgresql_"
    _CAST = re.compile(
        r'::(?:"(?:[^"]|"")+"|character varying|double precision|bit varying'
        r"|(?:timestamp|time)(?:\(\d+\))? with(?:out)? time zone|[\w.]+)"
        r"(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*",
        re.IGNORECASE,
    )

    def type_alias(self, text: str) -> str:
        if text == "FLOAT":
            return "DOUBLE PRECISION"
        match = _FLOAT.fullmatch(text)
        if match:
            return "REAL" if int(match.group(1)) <= 24 else "DOUBLE PRECISION"
        if text == "CHAR":
            return "CHAR(1)"
        text = re.sub(r"^DECIMAL\b", "NUMERIC", text)
        text = re.sub(r"^NUMERIC\((\d+)\)$", r"NUMERIC(\1,0)", text)  # stored with scale 0
        return {"INT": "INTEGER"}.get(text, text)

    def strip_casts(self, text: str) -> str:
        # 'abc'::character varying, (0)::numeric, '{}'::jsonb[]
        return self._CAST.sub("", text)

    #: storage parameters' boolean values, as the server accepts them
    _ON_OFF = dict.fromkeys(("on", "true", "yes"), "true") | dict.fromkeys(
        ("off", "false", "no"), "false"
    )

    def index_option(self, name: str, value: Any, index: Index, table: Table) -> Any:
        """The server keeps an access method, operator class, tablespace or storage
        parameter by its lower-case name; the defaults (btree, the database's default
        tablespace) are not kept. Operator classes compare by the position of the entry
        they apply to (the server knows no labels, and spells expressions its own way),
        without the `pg_catalog` schema every built-in one lives in, and a class that
        is its type's default is no class (the server reports none). Storage parameters
        compare as text, as `reloptions` holds them (`fillfactor=70`, `fastupdate=off`)."""
        if name == "postgresql_using" and str(value).lower() == "btree":
            return None  # the default
        if name == "postgresql_concurrently":
            return None  # how the statement runs, not what it makes
        if name == "postgresql_tablespace" and isinstance(value, str):
            value = value.strip('"').lower()
            return None if value == "pg_default" else value
        if name == "postgresql_ops" and isinstance(value, dict):
            method = str(dict(index.options).get("postgresql_using") or "btree").lower()
            defaults = DEFAULT_OPCLASSES.get(method, frozenset())
            value = {
                index.columns.index(entry): _opclass(opclass)
                for entry, opclass in value.items()
                if entry in index.columns and _opclass(opclass) not in defaults
            }
        if name == "postgresql_with" and isinstance(value, dict):
            value = {
                str(k).lower(): self._ON_OFF.get(str(v).lower(), str(v).lower())
                for k, v in value.items()
            }
        return super().index_option(name, value, index, table)

    _BOOLEANS = dict.fromkeys(("0", "'0'", "'f'", "'false'", "'n'", "'no'", "'off'"), "false")
    _BOOLEANS.update(dict.fromkeys(("1", "'1'", "'t'", "'true'", "'y'", "'yes'", "'on'"), "true"))

    def default(self, text: str | None, type_: TypeEngine[Any] | None = None) -> str | None:
        if text is not None and text.startswith("nextval("):
            return None  # the sequence of a SERIAL column: part of autoincrement
        text = super().default(text, type_)
        if text is not None and isinstance(type_, sqltypes.Boolean):
            return self._BOOLEANS.get(text.strip().lower(), text)  # stored as false / true
        return text


#: the largest value, in bytes, of each size of BLOB and TEXT
_SIZES = ((255, "TINY"), (65535, ""), (16777215, "MEDIUM"))
#: bytes per character of the character sets a length can be multiplied by
_MAXLEN = {"latin1": 1, "ascii": 1, "binary": 1, "ucs2": 2, "utf8mb3": 3, "utf8mb4": 4}
_MAXLEN.update(utf16=4, utf16le=4, utf32=4)
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
        return self.dialect.name == "mariadb" or bool(getattr(self.dialect, "is_mariadb", False))

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
    unique_indexes = True

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
            and index.name in (fk.name, implicit_index_name(table.name, fk))
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


class SQLiteNormalizer(Normalizer):
    comments = False
    #: the table options SQLite's CREATE TABLE text states, and their values when not
    _TABLE_OPTIONS = {
        "sqlite_autoincrement": False,
        "sqlite_with_rowid": True,
        "sqlite_strict": False,
    }

    def table_option(self, key: str, value: Any) -> Any:
        if key not in self._TABLE_OPTIONS:
            return None
        return self._TABLE_OPTIONS[key] if value is None else bool(value)

    index_prefix = "sqlite_"

    def type_alias(self, text: str) -> str:
        # a declared DOUBLE PRECISION is read back by its affinity, REAL
        return "REAL" if text == "DOUBLE PRECISION" else text


_KINDS: dict[str, type[Normalizer]] = {
    "postgresql": PostgreSQLNormalizer,
    "mysql": MySQLNormalizer,
    "mariadb": MySQLNormalizer,
    "sqlite": SQLiteNormalizer,
}


def normalizer_for(dialect: Dialect) -> Normalizer:
    """A normalizer for one comparison (its type cache lives as long as it does)."""
    return _KINDS.get(dialect.name, Normalizer)(dialect)
