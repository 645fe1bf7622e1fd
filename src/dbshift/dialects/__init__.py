"""What differs per backend: DDL quirks, transactional DDL, table rebuilds, locks."""

from __future__ import annotations

from sqlalchemy.engine import Dialect

from dbshift.dialects.base import DialectRules
from dbshift.dialects.mysql import MySQLRules
from dbshift.dialects.sqlite import SQLiteRules


class PostgreSQLRules(DialectRules):
    """PostgreSQL follows the standard `ALTER` forms the base class emits."""

    name = "postgresql"


_RULES: dict[str, DialectRules] = {
    "postgresql": PostgreSQLRules(),
    "mysql": MySQLRules(),
    "mariadb": MySQLRules(),
    "sqlite": SQLiteRules(),
}
_DEFAULT = DialectRules()


def dialect_for(dialect: Dialect) -> DialectRules:
    return _RULES.get(dialect.name, _DEFAULT)


__all__ = ["DialectRules", "dialect_for"]
