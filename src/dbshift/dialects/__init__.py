"""What differs per backend: DDL quirks, transactional DDL, table rebuilds, locks."""

from __future__ import annotations

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


__all__ = ["DialectRules", "MySQLRules", "PostgreSQLRules", "SQLiteRules", "dialect_for"]
