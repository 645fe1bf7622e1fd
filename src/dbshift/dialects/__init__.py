"""What differs per backend: DDL quirks, transactional DDL, table rebuilds, locks."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.engine import Dialect

from dbshift.dialects.base import DialectRules
from dbshift.dialects.mysql import MySQLRules
from dbshift.dialects.postgresql import PostgreSQLRules
from dbshift.dialects.sqlite import SQLiteRules

_RULES: dict[str, DialectRules] = {
    "postgresql": PostgreSQLRules(),
    "mysql": MySQLRules(),
    "mariadb": MySQLRules(),
    "sqlite": SQLiteRules(),
}
_DEFAULT = DialectRules()


def dialect_for(dialect: Dialect) -> DialectRules:
    """The rules for a SQLAlchemy dialect; unknown backends get standard SQL."""
    return _RULES.get(dialect.name, _DEFAULT)


@functools.cache
def dialect_arguments(construct: type[Any]) -> frozenset[str]:
    """The `<dialect>_<argument>` keywords that the SQLAlchemy dialects of the supported
    backends declare for `construct` (an `Index`, a `Table`, ...) in their
    `construct_arguments`, the declarations SQLAlchemy itself checks such keywords
    against; `<dialect>_*` where a dialect takes any (MySQL's table options)."""
    names: set[str] = set()
    for backend in _RULES:
        declared: Any = registry.load(backend).construct_arguments or ()
        for kind, arguments in declared:
            if issubclass(construct, kind):
                names.update(f"{backend}_{argument}" for argument in arguments)
    return frozenset(names)


__all__ = [
    "DialectRules",
    "MySQLRules",
    "PostgreSQLRules",
    "SQLiteRules",
    "dialect_arguments",
    "dialect_for",
]
