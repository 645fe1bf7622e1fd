"""Which server a MySQL-family dialect talks to (the package, its introspection and its
normalizer ask; kept apart so that they need not import each other)."""

from __future__ import annotations

from sqlalchemy.engine import Dialect


def is_mariadb(dialect: Dialect) -> bool:
    """Whether `dialect` talks to MariaDB (by URL, or as the server said on connecting)."""
    return dialect.name == "mariadb" or bool(getattr(dialect, "is_mariadb", False))
