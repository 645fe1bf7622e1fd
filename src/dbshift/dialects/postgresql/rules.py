"""PostgreSQL: the standard `ALTER` forms, plus `USING` for type changes."""

from __future__ import annotations

import functools
import inspect
import re
from typing import TYPE_CHECKING, Any, Final, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.dialects.base import (
    Commit,
    DialectRules,
    InDoubt,
    Restore,
    Timeouts,
    is_drop,
    leading_words,
    type_sql,
    upper,
)

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext

_SET = sa.text(
    "SELECT set_config('lock_timeout', :lock, :local), "
    "set_config('statement_timeout', COALESCE(:statement, "
    "current_setting('statement_timeout')), :local)"
)
#: `_SET` with `local` true, as columns of another SELECT (`local_timeouts`)
_LOCAL_TIMEOUTS = (
    sa.func.set_config("lock_timeout", sa.bindparam("dbshift_lock", type_=sa.String), True),
    sa.func.set_config(
        "statement_timeout",
        sa.func.coalesce(
            sa.bindparam("dbshift_statement", type_=sa.String),
            sa.func.current_setting("statement_timeout"),
        ),
        True,
    ),
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


#: statements that cannot run in a transaction block and run again harmlessly when a run
#: was cut off while they ran (maintenance, settings)
_REPEATABLE = ("VACUUM", "ALTER SYSTEM", "DISCARD ALL", "REINDEX", "CLUSTER", "ALTER DATABASE")
#: statements that, beginning so, never run in a transaction block (the manual's page of
#: each command says so; the server calls `PreventInTransactionBlock`)
_NEVER_IN_A_TRANSACTION = (
    "VACUUM",
    "ALTER SYSTEM",
    "DISCARD ALL",
    "CALL",  # a procedure may COMMIT only when called outside one
    "COMMIT PREPARED",
    "ROLLBACK PREPARED",
    "CREATE SUBSCRIPTION",
    "DROP SUBSCRIPTION",
    "CREATE DATABASE",
    "DROP DATABASE",
    "CREATE TABLESPACE",
    "DROP TABLESPACE",
    "CREATE INDEX CONCURRENTLY",
    "CREATE UNIQUE INDEX CONCURRENTLY",
    "DROP INDEX CONCURRENTLY",
)
#: what `CREATE/DROP <kind> name` makes or removes, found by name in the catalog
_NAMED = {
    "DATABASE": "SELECT 1 FROM pg_database WHERE datname = :name",
    "TABLESPACE": "SELECT 1 FROM pg_tablespace WHERE spcname = :name",
}
_INDEX_STATE = sa.text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)")
_ENUM_LABEL = sa.text(
    "SELECT 1 FROM pg_enum WHERE enumtypid = to_regtype(:type) AND enumlabel = :label"
)


def _starts(words: list[str], *phrases: str) -> str | None:
    """The phrase among `phrases` that `words` start with (asked for every statement of
    a statement-by-statement run: the phrases are split once)."""
    for phrase in phrases:
        wanted = _phrase_words(phrase)
        if words[: len(wanted)] == wanted:
            return phrase
    return None


@functools.cache
def _phrase_words(phrase: str) -> list[str]:
    return phrase.split()


def _name_at(words: list[str], at: int) -> str | None:
    """The possibly schema-qualified name starting at `words[at]`, as written."""
    if at >= len(words) or not (words[at][:1].isalpha() or words[at][:1] in '"_'):
        return None
    name = words[at]
    while at + 2 < len(words) and words[at + 1] == ".":
        name += "." + words[at + 2]
        at += 2
    return name


def _after_if(words: list[str], at: int, *clause: str) -> int:
    """`at`, moved past `IF [NOT] EXISTS` when the statement has it there."""
    return at + len(clause) if words[at : at + len(clause)] == list(clause) else at


def _unquoted(name: str) -> str:
    """A database or tablespace name as the catalog stores it."""
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


class _NoNamedTypes:
    """The enums and domains `_reflect_type` may name: none, without a database."""

    enums: dict[tuple[str, ...], Any] = {}
    domains: dict[tuple[str, ...], Any] = {}


#: SQLSTATEs meaning "what this statement creates is already there": a table, a column,
#: an object (type, constraint, ...), a schema, a function
_EXISTS_STATES: Final = frozenset({"42P07", "42701", "42710", "42P06", "42723"})
#: SQLSTATEs meaning "what this DROP removes is already gone"
_GONE_STATES: Final = frozenset({"42P01", "42703", "42704"})
#: lock_not_available: a statement gave up waiting for a lock (`lock_timeout`)
_LOCK_NOT_AVAILABLE: Final = "55P03"


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE a PostgreSQL driver's error carries (psycopg, asyncpg)."""
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else None


class PostgreSQLRules(DialectRules):
    """The standard `ALTER` forms, `USING` for type changes, and PostgreSQL's error
    codes, transaction-block rules and catalog."""

    session_query = "SELECT pg_backend_pid()"
    plain_indexes = True

    def already_exists(self, error: BaseException) -> bool:
        return _sqlstate(error) in _EXISTS_STATES

    def lock_timed_out(self, error: BaseException) -> bool:
        """SQLSTATE 55P03 lock_not_available."""
        return _sqlstate(error) == _LOCK_NOT_AVAILABLE

    def type_from_ddl(self, dialect: Dialect, text: str) -> TypeEngine[Any] | None:
        """As `format_type()` text is read back: by the dialect's `_reflect_type`, with
        no enums or domains to name (a name it does not know is no type)."""
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

    def commit_of(self, sql: str, server_version: tuple[int, ...] = ()) -> Commit:
        """Everything commits with its record but what PostgreSQL refuses to run in a
        transaction block: `CREATE/DROP INDEX CONCURRENTLY`, `REINDEX CONCURRENTLY` (and
        of a system or database), `VACUUM`, `CLUSTER` of every table, `CREATE/DROP
        DATABASE`, `ALTER DATABASE ... SET TABLESPACE`, `CREATE/DROP TABLESPACE`, `ALTER
        SYSTEM`, `DISCARD ALL`, subscriptions that touch a replication slot, `COMMIT/
        ROLLBACK PREPARED`, `ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY`, `ALTER
        TYPE ... ADD VALUE` before PostgreSQL 12; and a `CALL` or a `DO` block whose
        body commits, which may control transactions only outside one."""
        return Commit.OUTSIDE if self._outside(sql, server_version) else Commit.WITH_RECORD

    def _outside(self, sql: str, server_version: tuple[int, ...]) -> bool:
        """Whether PostgreSQL refuses `sql` in a transaction block (see `commit_of`)."""
        raw = leading_words(sql, 40)
        words = upper(raw)
        if _starts(words, *_NEVER_IN_A_TRANSACTION):
            return True
        if _starts(words, "ALTER SUBSCRIPTION"):
            return "REFRESH" in words or "PUBLICATION" in words
        if _starts(words, "ALTER DATABASE"):
            return "TABLESPACE" in words
        if _starts(words, "REINDEX"):
            return "CONCURRENTLY" in words[:8] or words[1:2] in (["SYSTEM"], ["DATABASE"])
        if _starts(words, "CLUSTER"):
            return [w for w in words[1:] if w != ";"] in ([], ["VERBOSE"])
        if _starts(words, "ALTER TABLE"):
            return "DETACH" in words and "CONCURRENTLY" in words
        if _starts(words, "ALTER TYPE"):
            return "ADD" in words and "VALUE" in words and server_version[:1] < (12,)
        if _starts(words, "DO"):
            return _body_controls_transactions(raw)
        return False

    def in_doubt(self, conn: sa.Connection, sql: str) -> InDoubt:
        """What the catalog shows of a statement run outside a transaction that a run
        was cut off in: the index `CREATE INDEX CONCURRENTLY` builds exists and is valid
        (an INVALID one is what an unfinished build leaves), the index or database a
        DROP removes is gone, the enum value is there; `VACUUM`, `REINDEX` and other
        maintenance statements simply run again."""
        raw = leading_words(sql, 40)
        words = upper(raw)
        if _starts(words, "CREATE INDEX", "CREATE UNIQUE INDEX"):
            return _index_built(conn, raw, words)
        if _starts(words, "DROP INDEX"):
            name = _name_at(raw, _after_if(words, 3, "IF", "EXISTS"))
            if name is not None and conn.execute(_INDEX_STATE, {"name": name}).first() is None:
                return InDoubt("done", f"index {name} is gone")
            return InDoubt("run")
        kind = _starts(
            words, "CREATE DATABASE", "DROP DATABASE", "CREATE TABLESPACE", "DROP TABLESPACE"
        )
        if kind is not None:
            verb, noun = kind.split()
            name = _name_at(raw, _after_if(words, 2, "IF", "EXISTS"))
            if name is None:
                return InDoubt("ask", "the database cannot tell whether it completed")
            exists = conn.execute(sa.text(_NAMED[noun]), {"name": _unquoted(name)}).first()
            if (exists is not None) == (verb == "CREATE"):
                return InDoubt("done", f"{noun.lower()} {name} {'exists' if exists else 'is gone'}")
            return InDoubt("run")
        if _starts(words, "ALTER TYPE"):
            return _enum_value_added(conn, raw, words)
        if _starts(words, *_REPEATABLE):
            return InDoubt("run")
        return InDoubt("ask", "the database cannot tell whether it completed")

    def already_applied(self, sql: str, error: BaseException) -> bool:
        """Never for `CONCURRENTLY`: a concurrent index build that was cut off leaves
        an INVALID index behind, which "already exists" too."""
        if "CONCURRENTLY" in sql.upper():
            return False
        if self.already_exists(error):
            return True
        return _sqlstate(error) in _GONE_STATES and is_drop(sql)

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

    def local_timeouts(
        self, timeouts: Timeouts
    ) -> tuple[tuple[sa.ColumnElement[Any], ...], dict[str, Any]]:
        params = {"dbshift_lock": _ms(timeouts.lock), "dbshift_statement": _ms(timeouts.statement)}
        return _LOCAL_TIMEOUTS, params

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


def _body_controls_transactions(raw: list[str]) -> bool:
    """Whether a `DO` block's body commits or rolls back: then it cannot run in a
    transaction block."""
    body = next((w for w in raw[1:] if w[:1] in ("$", "'")), "")
    return re.search(r"\b(COMMIT|ROLLBACK)\b", body, re.IGNORECASE) is not None


def _index_built(conn: sa.Connection, raw: list[str], words: list[str]) -> InDoubt:
    """`CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON ...`: done when the
    index is valid; not begun when it does not exist; an INVALID one stops the run."""
    at = words.index("CONCURRENTLY") + 1 if "CONCURRENTLY" in words else len(words)
    at = _after_if(words, at, "IF", "NOT", "EXISTS")
    name = _name_at(raw, at) if at < len(words) and words[at] != "ON" else None
    if name is None:
        return InDoubt(
            "ask",
            "the index has no name in the statement, so the database cannot tell "
            "whether it was built",
        )
    valid = conn.execute(_INDEX_STATE, {"name": name}).scalar()
    if valid is None:
        return InDoubt("run")
    if valid:
        return InDoubt("done", f"index {name} exists and is valid")
    return InDoubt(
        "ask",
        f"index {name} exists but is INVALID: the build did not finish",
        hint=f"drop it (`DROP INDEX CONCURRENTLY {name}`) and run `dbshift upgrade` "
        "again to build it anew",
    )


def _enum_value_added(conn: sa.Connection, raw: list[str], words: list[str]) -> InDoubt:
    """`ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'label' ...`: done when the label is
    there."""
    name = _name_at(raw, 2)
    at = words.index("VALUE") + 1 if "VALUE" in words else len(words)
    at = _after_if(words, at, "IF", "NOT", "EXISTS")
    label = raw[at] if at < len(raw) and raw[at].startswith("'") else None
    if name is None or label is None:
        return InDoubt("ask", "the database cannot tell whether it completed")
    found = conn.execute(_ENUM_LABEL, {"type": name, "label": label[1:-1].replace("''", "'")})
    if found.first() is not None:
        return InDoubt("done", f"type {name} has the value {label}")
    return InDoubt("run")
