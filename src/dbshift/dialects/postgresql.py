"""PostgreSQL: the standard `ALTER` forms, plus `USING` for type changes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.dialects import limits
from dbshift.dialects.base import DialectRules, Restore, Timeouts, type_sql

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext

_SET = sa.text(
    "SELECT set_config('lock_timeout', :lock, :local), "
    "set_config('statement_timeout', COALESCE(:statement, "
    "current_setting('statement_timeout')), :local)"
)
_CURRENT = sa.text("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
#: the schema holding the table an unqualified `:table` resolves to (through the search
#: path, as every statement would), else the one CREATE TABLE would put it in
_SCHEMA_OF = sa.text(
    "SELECT COALESCE((SELECT n.nspname FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(:table))), "
    "pg_catalog.current_schema())"
)
#: the relation `:pid` waits to lock, and the sessions in its way
_BLOCKER = sa.text(
    "SELECT l.relation::regclass::text, a.pid, a.application_name, a.state, a.query "
    "FROM pg_locks l CROSS JOIN LATERAL unnest(pg_blocking_pids(l.pid)) AS b(pid) "
    "JOIN pg_stat_activity a ON a.pid = b.pid "
    "WHERE l.pid = :pid AND NOT l.granted ORDER BY a.pid LIMIT 1"
)


def _ms(seconds: float | None) -> str | None:
    return None if seconds is None else f"{round(seconds * 1000)}ms"


#: SQL spellings `format_type()` (which `_reflect_type` reads) writes otherwise
_FORMAT_TYPE_NAMES = {
    "varchar": "character varying",
    "char": "character",
    "int": "integer",
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "decimal": "numeric",
    "timestamptz": "timestamp with time zone",
    "timetz": "time with time zone",
}


class _NoNamedTypes:
    """The enums and domains `_reflect_type` may name: none, without a database."""

    enums: dict[tuple[str, ...], Any] = {}
    domains: dict[tuple[str, ...], Any] = {}


class PostgreSQLRules(DialectRules):
    name = "postgresql"
    limits = limits.POSTGRESQL
    session_query = "SELECT pg_backend_pid()"
    enum_types = True
    online_rewrites = True

    def type_from_ddl(self, dialect: Dialect, text: str) -> TypeEngine[Any] | None:
        """As `format_type()` text is read back: by the dialect's `_reflect_type`, with
        no enums or domains to name (a name it does not know is no type)."""
        import inspect

        reflect: Any = cast(Any, dialect)._reflect_type
        args: tuple[Any, ...] = (_NoNamedTypes(),)
        if "named_type_loader" not in inspect.signature(reflect).parameters:
            args = ({}, {})  # SQLAlchemy 2.0: enums and domains as dicts
        words = " ".join(text.lower().split())
        name = re.match(r"[a-z0-9_]+", words)
        if name is not None and name.group() in _FORMAT_TYPE_NAMES:  # as format_type spells
            words = _FORMAT_TYPE_NAMES[name.group()] + words[name.end() :]
        found: TypeEngine[Any] = reflect(words, *args, type_description="type", collation=None)
        return None if isinstance(found, sa.types.NullType) else found

    def bookkeeping_schema(self, conn: sa.Connection, table: str) -> str | None:
        schema = conn.execute(_SCHEMA_OF, {"table": table}).scalar()
        return str(schema) if schema is not None else None

    def already_applied(self, sql: str, error: BaseException) -> bool:
        """Never for `CONCURRENTLY`: a concurrent index build that was cut off leaves
        an INVALID index behind, which "already exists" too."""
        if "CONCURRENTLY" in sql.upper():
            return False
        return super().already_applied(sql, error)

    def set_timeouts(self, conn: sa.Connection, timeouts: Timeouts, *, local: bool) -> Restore:
        """`SET LOCAL` inside the migration's transaction (PgBouncer-safe, undone by the
        commit or rollback); around a non-transactional one, `SET` and back."""
        wanted = {"lock": _ms(timeouts.lock), "statement": _ms(timeouts.statement)}
        if local:
            conn.execute(_SET, {**wanted, "local": True})
            return lambda: None
        lock, statement = conn.execute(_CURRENT).one()
        conn.execute(_SET, {**wanted, "local": False})

        def restore() -> None:
            conn.execute(_SET, {"lock": lock, "statement": statement, "local": False})

        return restore

    def blocker(self, conn: sa.Connection, session: str) -> str | None:
        row = conn.execute(_BLOCKER, {"pid": int(session)}).first()
        if row is None:
            return None
        table, pid, application, state, query = row
        query = " ".join(str(query or "").split())
        query = query if len(query) <= 60 else query[:57] + "..."
        who = f"pid {pid}" + (f" ({application})" if application else "")
        return f"a lock on {table} held by {who}, {state}: `{query}`"

    def alter_type(
        self, ctx: ExecutionContext, head: str, type_: TypeEngine[Any], using: str | None
    ) -> None:
        """`USING expr` converts existing values PostgreSQL cannot cast implicitly
        (e.g. text to integer); it is SQL written by the migration, as in Alembic."""
        clause = f"{head} TYPE {type_sql(ctx.dialect, type_)}"
        ctx.emit(clause + (f" USING {using}" if using else ""))
