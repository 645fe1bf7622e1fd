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
from sqlalchemy.types import TypeEngine

from dbshift.dialects.backends import resolve_type, unhooked_ddl

_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_FLOAT = re.compile(r"FLOAT\((\d+)\)")  # FLOAT(p): single precision up to p = 24
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


def _public(type_: TypeEngine[Any]) -> tuple[tuple[str, Any], ...]:
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
            key = (type(type_), _public(type_))
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

    # -- SQL fragments -------------------------------------------------------------------

    def sql(self, text: str | None) -> str | None:
        """A loose canonical form of an expression (checks, index predicates, index
        expressions): case, spacing, identifier quoting and redundant parentheses do
        not matter."""
        if text is None:
            return None
        text = self.strip_casts(text.strip())

        def loose(part: str) -> str:
            part = re.sub(r'["`\[\]]', "", part.lower())
            return re.sub(r"\s+", "", part)

        return _outside_quotes(text, loose).replace("(", "").replace(")", "")

    def strip_casts(self, text: str) -> str:
        return text

    def default(self, text: str | None) -> str | None:
        """A server default's canonical text; None for no default."""
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

    #: whether the server keeps comments
    comments = True
    #: whether foreign keys can be DEFERRABLE
    deferrable = False


class PostgreSQLNormalizer(Normalizer):
    deferrable = True
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
        return {"DECIMAL": "NUMERIC", "INT": "INTEGER"}.get(text, text)

    def strip_casts(self, text: str) -> str:
        # 'abc'::character varying, (0)::numeric, '{}'::jsonb[]
        return self._CAST.sub("", text)

    def default(self, text: str | None) -> str | None:
        if text is not None and text.startswith("nextval("):
            return None  # the sequence of a SERIAL column: part of autoincrement
        return super().default(text)


class MySQLNormalizer(Normalizer):
    _WIDTH = re.compile(r"^(TINYINT|SMALLINT|MEDIUMINT|INT|INTEGER|BIGINT)\(\d+\)")

    def type_alias(self, text: str) -> str:
        text = re.sub(r" (CHARACTER SET|COLLATE) \w+", "", text)
        if text in ("BOOL", "BOOLEAN", "TINYINT(1)"):
            return "TINYINT(1)"
        text = self._WIDTH.sub(r"\1", text)
        match = _FLOAT.fullmatch(text)
        if match:
            return "FLOAT" if int(match.group(1)) <= 24 else "DOUBLE"
        text = re.sub(r"^INTEGER\b", "INT", text)
        text = re.sub(r"^NUMERIC\b", "DECIMAL", text)
        if text == "JSON" and getattr(self.dialect, "is_mariadb", False):
            return "LONGTEXT"  # MariaDB's JSON is LONGTEXT with a json_valid() check
        return text

    def fk_action(self, action: str | None) -> str | None:
        action = super().fk_action(action)
        return None if action == "RESTRICT" else action

    def table_option(self, key: str, value: Any) -> Any:
        # the server's default engine is its own setting: compared only when stated
        return str(value).lower() if key == "mysql_engine" and value is not None else None


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


_KINDS: dict[str, type[Normalizer]] = {
    "postgresql": PostgreSQLNormalizer,
    "mysql": MySQLNormalizer,
    "mariadb": MySQLNormalizer,
    "sqlite": SQLiteNormalizer,
}


def normalizer_for(dialect: Dialect) -> Normalizer:
    """A normalizer for one comparison (its type cache lives as long as it does)."""
    return _KINDS.get(dialect.name, Normalizer)(dialect)
