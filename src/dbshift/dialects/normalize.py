"""How a backend spells what it stores, so that comparing models with a database finds
real differences only.

A model says `Float()`, PostgreSQL reports `DOUBLE PRECISION`; a model says
`server_default="0"`, PostgreSQL reports `0` and MariaDB `'0'`. Each backend's
normalizer maps both sides to one canonical text: types through the dialect's own DDL
compiler plus the aliases the server applies, defaults and SQL fragments through a
small lexical canonical form. Each backend is a small class overriding what differs,
in its package (`postgresql/normalize.py`, ...), given by `Backend.normalizer`; what
the backend keeps at all (comments, deferrable keys, ...) are its `Backend`'s flags.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.dialects.hooks import resolved, unhooked_ddl
from dbshift.schema.snapshot import Check, Index, Table

if TYPE_CHECKING:
    from dbshift.dialects.backend import Backend

_QUOTED = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
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
    """The attributes a type was built with (a class sets them in one order). Not
    `dispatch`: a `SchemaType` (`Boolean`, `Enum`) holds its own event dispatcher, which
    says nothing about the type and would make every instance a type of its own."""
    return tuple([(k, v) for k, v in vars(type_).items() if k[0] != "_" and k != "dispatch"])


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

    def __init__(self, dialect: Dialect, backend: Backend) -> None:
        self.dialect = dialect
        #: the backend compared on (its flags say what the server keeps at all)
        self.backend = backend
        self._types: dict[Any, str] = {}

    # -- types -------------------------------------------------------------------------

    def type(self, type_: TypeEngine[Any]) -> str:
        """The type as the server stores it, e.g. `VARCHAR(50)`, `DOUBLE PRECISION`.

        Cached by class and public attributes of the type as it resolves on this
        backend (a variant's mapping and a decorator's `load_dialect_impl` are not
        public attributes): a schema has few distinct types, and compiling one costs
        more than comparing it."""
        type_ = resolved(type_, self.dialect)
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
