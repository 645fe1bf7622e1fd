"""What differs per backend: one `Backend` per database, found by `backend_for`.

Each backend is a package here (`postgresql/`, `mysql/`, `sqlite/`) holding its DDL
rules, runner lock, normalizer, introspection and limits, with the capability flags
that the rest of dbshift reads instead of backend names (see `backend.py`). What they
share stays in this package: `base.py` (the rules' generic SQL), `locking.py`,
`normalize.py`, `limits.py`, `introspect_common.py`, `inspector.py` (any other
dialect's introspection), `backends.py` and `hooks.py` (types per backend).

This module stays light: `status` and `history` import it (see `backend.py`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects import registry
from sqlalchemy.engine import Dialect

from dbshift.dialects import mysql, postgresql, sqlite
from dbshift.dialects.backend import Backend

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dbshift.dialects.base import DialectRules
    from dbshift.dialects.locking import DatabaseLock

#: the supported backends, each under every SQLAlchemy dialect name it serves
_BACKENDS: dict[str, Backend] = {
    name: backend.BACKEND
    for backend in (postgresql, mysql, sqlite)
    for name in backend.BACKEND.names
}
#: other spellings callers use (sqlglot's name for PostgreSQL)
_ALIASES = {"postgres": "postgresql"}
#: any other dialect: standard SQL, read through SQLAlchemy's inspector
_DEFAULT = Backend()


def backend_for(dialect: Dialect | str) -> Backend:
    """The backend of a SQLAlchemy dialect, or of a dialect name (`postgresql`,
    `mysql+pymysql`, ...); unknown backends get standard SQL. The one lookup of
    per-backend knowledge."""
    name = dialect if isinstance(dialect, str) else str(dialect.name)
    name = name.lower().split("+", 1)[0]
    return _BACKENDS.get(_ALIASES.get(name, name), _DEFAULT)


def dialect_for(dialect: Dialect) -> DialectRules:
    """The DDL rules of the dialect's backend: `backend_for(dialect).rules`, which
    operations call for each statement they write."""
    return backend_for(dialect).rules


def lock_for(conn: sa.Connection, prefix: str, schema: str | None) -> DatabaseLock:
    """The runner lock of the bookkeeping tables `prefix*` in `schema` of this
    connection's database, of the connection's backend (see `dbshift.dialects.locking`)."""
    database = conn.engine.url.database or ""
    return backend_for(conn.dialect).lock(f"dbshift:{database}:{schema or ''}:{prefix}")


@functools.cache
def dialect_arguments(construct: type[Any]) -> frozenset[str]:
    """The `<dialect>_<argument>` keywords that the SQLAlchemy dialects of the supported
    backends declare for `construct` (an `Index`, a `Table`, ...) in their
    `construct_arguments`, the declarations SQLAlchemy itself checks such keywords
    against; `<dialect>_*` where a dialect takes any (MySQL's table options)."""
    names: set[str] = set()
    for backend in _BACKENDS:
        declared: Any = registry.load(backend).construct_arguments or ()
        for kind, arguments in declared:
            if issubclass(construct, kind):
                names.update(f"{backend}_{argument}" for argument in arguments)
    return frozenset(names)


__all__ = ["Backend", "backend_for", "dialect_arguments", "dialect_for", "lock_for"]
