"""MySQL and MariaDB: DDL commits implicitly, and `MODIFY` restates the whole column."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.dialects.base import (
    ColumnChange,
    Commit,
    Constraint,
    DialectRules,
    Restore,
    TableEdit,
    Timeouts,
    column_spec,
    is_drop,
    leading_words,
    qualified,
    quote,
    sa_constraint,
)
from dbshift.dialects.mysql.flavour import is_mariadb
from dbshift.dialects.mysql.introspect import _parsed_type
from dbshift.errors import MigrationError
from dbshift.schema.snapshot import Column, ForeignKey, Table, table_key

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext


#: table exists, duplicate column, duplicate key name, duplicate foreign key name
_EXISTS = frozenset({1050, 1060, 1061, 1826})
#: unknown table, can't DROP (column or key gone)
_GONE = frozenset({1051, 1091})
#: statements that change rows and commit only with the transaction (on InnoDB): the
#: rest of what a migration holds (DDL, LOCK TABLES, ...) commits implicitly
_DATA = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "WITH", "VALUES", "DO"})
#: ER_LOCK_WAIT_TIMEOUT: a metadata lock (lock_wait_timeout) or a row lock
_LOCK_WAIT_TIMEOUT = 1205
#: the largest lock_wait_timeout (a year): "no limit"
_FOREVER = 31536000
#: which process holds a metadata lock on the table `:id` waits for (MariaDB's
#: metadata_lock_info plugin, when it is installed)
_BLOCKER = sa.text(
    "SELECT m.table_schema, m.table_name, m.thread_id, p.user, p.host, p.command, p.info "
    "FROM information_schema.metadata_lock_info m "
    "JOIN information_schema.processlist w ON w.id = :id "
    "JOIN information_schema.processlist p ON p.id = m.thread_id "
    "WHERE m.thread_id <> :id AND w.info LIKE CONCAT('%', m.table_name, '%') "
    "AND m.table_name <> '' ORDER BY m.thread_id LIMIT 1"
)
#: without that plugin: the oldest other open transaction on this database, the likeliest
#: holder
_OLDEST_TRANSACTION = sa.text(
    "SELECT t.trx_mysql_thread_id, p.user, p.host, p.command, p.info, "
    "TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) "
    "FROM information_schema.innodb_trx t "
    "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
    "WHERE t.trx_mysql_thread_id <> :id AND p.db <=> DATABASE() "
    "ORDER BY t.trx_started LIMIT 1"
)


def _doing(command: object, info: object) -> str:
    query = " ".join(str(info or "").split())
    return f"running `{query[:57]}`" if query else str(command).lower()


def implicit_index_name(table: str, fk: ForeignKey) -> str:
    """InnoDB names the index it makes for a foreign key after the key, or after its
    first column when the server named the key (`<table>_ibfk_<n>`)."""
    if fk.name is None or re.fullmatch(rf"{re.escape(table)}_ibfk_\d+", fk.name):
        return fk.columns[0]
    return fk.name


def _index_exists(ctx: ExecutionContext, table: str, schema: str | None, name: str) -> bool:
    """Introspection leaves out the index InnoDB keeps for a foreign key: ask the server
    (offline, where the replayed schema has none either, it does not exist)."""
    conn = ctx.connection
    if conn is None:
        return False
    found = conn.execute(
        sa.text(
            "SELECT 1 FROM information_schema.statistics WHERE "
            "table_schema = COALESCE(:schema, DATABASE()) AND table_name = :table "
            "AND index_name = :name LIMIT 1"
        ),
        {"schema": schema, "table": table, "name": name},
    ).first()
    return found is not None


def _code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class MySQLRules(DialectRules):
    session_query = "SELECT CONNECTION_ID()"
    plain_indexes = True

    def type_from_ddl(self, dialect: Dialect, text: str) -> TypeEngine[Any] | None:
        return _parsed_type(dialect, text, None, None)

    def bookkeeping_schema(self, conn: sa.Connection, table: str) -> str | None:
        """The connection's current database (`USE` changes it)."""
        database = conn.execute(sa.text("SELECT DATABASE()")).scalar()
        return str(database) if database is not None else None

    def already_exists(self, error: BaseException) -> bool:
        return _code(error) in _EXISTS

    def commit_of(self, sql: str, server_version: tuple[int, ...] = ()) -> Commit:
        """A data statement commits in a transaction with its record; DDL (and anything
        else) commits by itself, and its record follows. (A table of a non-transactional
        engine, MyISAM, keeps its changes at once: that is the engine's choice.)"""
        first = leading_words(sql, 1)
        return Commit.WITH_RECORD if first and first[0].upper() in _DATA else Commit.ITSELF

    def already_applied(self, sql: str, error: BaseException) -> bool:
        return self.already_exists(error) or (_code(error) in _GONE and is_drop(sql))

    def lock_timed_out(self, error: BaseException) -> bool:
        return _code(error) == _LOCK_WAIT_TIMEOUT

    def set_timeouts(self, conn: sa.Connection, timeouts: Timeouts, *, local: bool) -> Restore:
        """`SET SESSION lock_wait_timeout` (whole seconds, for metadata locks: what an
        ALTER waits for while the application's queries queue behind it), and on MariaDB
        `max_statement_time`; the session's values come back afterwards. MySQL's own
        `max_execution_time` limits SELECTs only, so there `statement_timeout` is unused."""
        lock = math.ceil(timeouts.lock) if timeouts.lock > 0 else _FOREVER
        settings: dict[str, float] = {"lock_wait_timeout": lock}
        if timeouts.statement is not None and is_mariadb(conn.dialect):
            settings["max_statement_time"] = timeouts.statement
        # one round trip each way: the session's values wait in user variables
        keep = ", ".join(f"@dbshift_{n} = @@SESSION.{n}, SESSION {n} = :{n}" for n in settings)
        conn.execute(sa.text("SET " + keep), settings)
        back = sa.text("SET " + ", ".join(f"SESSION {n} = @dbshift_{n}" for n in settings))

        def restore() -> None:
            conn.execute(back)

        return restore

    def blocker(self, conn: sa.Connection, session: str) -> str | None:
        """The holder from `metadata_lock_info` where that plugin is installed; else
        the oldest other open transaction, named as the likely holder."""
        try:
            row = conn.execute(_BLOCKER, {"id": int(session)}).first()
        except exc.DBAPIError:  # the plugin is not installed
            conn.rollback()
        else:
            if row is None:
                return None
            schema, table, thread, user, host, command, info = row
            who = f"connection {thread} ({user}@{host}, {_doing(command, info)})"
            return f"a metadata lock on {schema}.{table} held by {who}"
        oldest = conn.execute(_OLDEST_TRANSACTION, {"id": int(session)}).first()
        if oldest is None:
            return None
        thread, user, host, command, info, age = oldest
        doing = _doing(command, info)
        return (
            f"a metadata lock, likely held by the oldest open transaction: connection "
            f"{thread} ({user}@{host}, open {age} s, {doing})"
        )

    def alter_column(
        self, edit: TableEdit, column: str, wanted: ColumnChange, existing: Column | None
    ) -> None:
        """`MODIFY COLUMN` with the full new definition: the live one (or the
        migration's `existing_*` arguments) with the requested changes."""
        ctx, table, schema = edit.ctx, edit.table, edit.schema
        current = ctx.table(table, schema)
        if current is not None and current.column(column) is not None:
            new_table = edit.change(current)
        elif existing is not None:
            new_table = Table(table, (wanted.applied(existing),), schema=schema)
        else:
            raise MigrationError(
                f"alter_column on {table_key(table, schema)}.{column} needs the column's "
                "current definition on MySQL/MariaDB",
                hint="pass existing_type=, existing_nullable= and existing_server_default=",
            )
        spec = column_spec(ctx.dialect, new_table, column)
        ctx.emit(f"ALTER TABLE {edit.qualified} MODIFY COLUMN {spec}")

    def drop_column(self, edit: TableEdit, column: str) -> None:
        """MySQL shrinks a multi-column index when one of its columns is dropped, and
        refuses to drop a column a CHECK uses; PostgreSQL drops both. Drop them first
        so every backend ends the same."""
        ctx = edit.ctx
        current = ctx.table(edit.table, edit.schema)
        for index in current.indexes if current is not None else ():
            if column in index.columns and len(index.columns) > 1:
                ctx.emit(
                    f"ALTER TABLE {edit.qualified} DROP INDEX {quote(ctx.dialect, index.name)}"
                )
        for check in current.checks if current is not None else ():
            if check.name and check.uses(column):
                ctx.emit(sa.schema.DropConstraint(sa_constraint(edit.table, edit.schema, check)))
        super().drop_column(edit, column)

    def drop_index(
        self,
        ctx: ExecutionContext,
        table: str | None,
        schema: str | None,
        index: sa.Index,
        if_exists: bool,
    ) -> None:
        """InnoDB refuses to drop the last index a foreign key can use, and keeps one of
        its own (named after the key) only while no other serves: before dropping that
        last one, create the key's own, so the table ends as `create_all` makes it."""
        current = ctx.table(table, schema) if table is not None else None
        dropped = (
            next((i for i in current.indexes if i.name == index.name), None) if current else None
        )
        if current is not None and dropped is not None:
            kept = [i.columns for i in current.indexes if i is not dropped]
            if current.primary_key is not None:
                kept.append(current.primary_key.columns)
            for fk in current.foreign_keys:
                serves = [c[: len(fk.columns)] == fk.columns for c in kept]
                if dropped.columns[: len(fk.columns)] != fk.columns or any(serves):
                    continue
                name = implicit_index_name(table or "", fk)
                if not _index_exists(ctx, table or "", schema, name):
                    d = ctx.dialect
                    columns = ", ".join(quote(d, c) for c in fk.columns)
                    on = qualified(d, table or "", schema)
                    ctx.emit(f"CREATE INDEX {quote(d, name)} ON {on} ({columns})")
                kept.append(fk.columns)
        super().drop_index(ctx, table, schema, index, if_exists)

    def drop_constraint(self, edit: TableEdit, constraint: Constraint) -> None:
        """Dropping a foreign key also drops the index InnoDB created for it, so that
        adding then dropping a foreign key leaves the table as it was."""
        ctx, table, schema = edit.ctx, edit.table, edit.schema
        implicit = None
        conn = ctx.connection
        if conn is not None and isinstance(constraint, ForeignKey) and constraint.name:
            implicit = conn.execute(
                sa.text(
                    "SELECT index_name FROM information_schema.statistics WHERE "
                    "table_schema = COALESCE(:schema, DATABASE()) AND table_name = :table "
                    "AND index_name = :name"
                ),
                {"schema": schema, "table": table, "name": constraint.name},
            ).scalar()
        super().drop_constraint(edit, constraint)
        if implicit is not None:
            ctx.emit(f"ALTER TABLE {edit.qualified} DROP INDEX {quote(ctx.dialect, implicit)}")
