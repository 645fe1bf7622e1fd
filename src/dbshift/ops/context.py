"""Where operations send statements: a live connection, or an offline script."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Dialect

from dbshift.dialects import dialect_for
from dbshift.ops.base import ExecutionContext, Operation
from dbshift.schema.reflect import reflect_table
from dbshift.schema.snapshot import Snapshot, Table

Emitted = sa.Executable | str


class Journal(Protocol):
    """Follows a migration statement by statement (the runner's progress records).

    A Python data migration (`op.run(fn)`) counts as one statement, whose text is
    `python_marker(fn)`."""

    def skip(self, sql: str) -> bool:
        """Called before a statement runs: True when it already ran (a resumed run)."""

    def executing(self, sql: str) -> contextlib.AbstractContextManager[None]:
        """Around a statement that was not skipped: the journal readies the connection
        for it (a statement that cannot run in a transaction runs in autocommit mode)."""

    def done(self, sql: str) -> None:
        """Called after the statement succeeded."""

    def settled(self, sql: str, error: exc.DBAPIError) -> bool:
        """Called when it failed: True when the failure shows that an interrupted
        earlier run had completed it (the statement then counts as done)."""


class CodeFailed(Exception):
    """A migration's `op.run` callable raised `error`: any exception, `sys.exit()`, any
    BaseException but a Ctrl-C. The runner reports it as that migration's failure
    (its statement errors stay `DBAPIError`s, reported with the statement)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _call(fn: Callable[[sa.Connection], Any], connection: sa.Connection) -> None:
    """The one place an `op.run` callable is called."""
    try:
        fn(connection)
    except (exc.DBAPIError, KeyboardInterrupt, CodeFailed):  # CodeFailed: a nested call
        raise
    except BaseException as error:
        raise CodeFailed(error) from error


def python_marker(fn: Callable[..., Any]) -> str:
    return f"-- python: {getattr(fn, '__name__', 'function')}()"


class OnlineContext(ExecutionContext):
    """Executes statements on a connection; the runner owns the transactions.

    Nothing here begins or commits. The one procedure that must work around a
    transaction, SQLite's table rebuild, does so with PRAGMAs that are valid inside
    it (`defer_foreign_keys`, `legacy_alter_table`; see `dbshift.dialects.sqlite`).

    `on_statement` is called with each statement's SQL text after it succeeded. A
    `journal` is told before and after each statement, and may skip it: the runner
    records per-statement progress with one where DDL is not transactional."""

    def __init__(
        self,
        connection: sa.Connection,
        *,
        default_schema: str | None = None,
        on_statement: Callable[[str], None] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self._connection = connection
        self.dialect = connection.dialect
        self.executed = 0  # statements that succeeded
        self.default_schema = default_schema
        self.on_statement = on_statement
        self.journal = journal

    @property
    def connection(self) -> sa.Connection:
        return self._connection

    def emit(self, statement: Emitted, params: Any = None) -> None:
        journal = self.journal
        # compiled to text only when someone listens
        text = sql_text(statement, self.dialect) if journal or self.on_statement else ""
        if journal is not None and journal.skip(text):
            return
        # DDL compiled for the journal is sent as that text, not compiled again, where
        # the backend allows it (`DialectRules.ddl_as_text`)
        compiled = (
            text
            if text
            and not params
            and isinstance(statement, sa.schema.ExecutableDDLElement)
            and dialect_for(self.dialect).ddl_as_text
            else None
        )
        with journal.executing(text) if journal is not None else contextlib.nullcontext():
            try:
                if compiled is not None:
                    # with the driver's (empty) parameters, as SQLAlchemy sends DDL: the
                    # text escapes `%` for them
                    self._connection.exec_driver_sql(compiled)
                else:
                    self._execute(statement, params)
            except exc.DBAPIError as error:
                if journal is None or not journal.settled(text, error):
                    raise
            else:
                self.executed += 1
        if self.on_statement is not None:
            self.on_statement(text)
        if journal is not None:
            journal.done(text)

    def _execute(self, statement: Emitted, params: Any) -> None:
        if isinstance(statement, str):
            if params:
                self._connection.execute(sa.text(statement), params)
            else:  # no bind-parameter parsing: `:name` and `%` in raw SQL stay as written
                self._connection.exec_driver_sql(
                    statement, execution_options={"no_parameters": True}
                )
        else:
            self._connection.execute(statement, params)

    def run_python(self, fn: Callable[[sa.Connection], Any]) -> None:
        marker = python_marker(fn)
        if self.journal is not None and self.journal.skip(marker):
            return
        with self.journal.executing(marker) if self.journal else contextlib.nullcontext():
            _call(fn, self._connection)
        if self.journal is not None:
            self.journal.done(marker)

    def table(self, name: str, schema: str | None = None) -> Table | None:
        return reflect_table(self._connection, name, schema)


class OfflineContext(ExecutionContext):
    """Renders statements as SQL text into `statements`; tables are read from `snapshot`.

    Run operations with `ctx.run(op)`: it renders the operation, then applies it to
    `snapshot`, so that a later operation (a SQLite rebuild, a MySQL `MODIFY`) sees the
    table as the earlier ones left it. `op.execute(ctx)` alone renders without applying."""

    def __init__(
        self, dialect: Dialect, snapshot: Snapshot, *, default_schema: str | None = None
    ) -> None:
        self.dialect = dialect
        self.default_schema = default_schema
        self.snapshot = snapshot
        self.statements: list[str] = []

    @property
    def connection(self) -> None:
        return None

    def emit(self, statement: Emitted, params: Any = None) -> None:
        self.statements.append(render_statement(statement, self.dialect, params))

    def table(self, name: str, schema: str | None = None) -> Table | None:
        return self.snapshot.table(name, schema)

    def run(self, op: Operation) -> None:
        op.execute(self)
        self.snapshot = op.apply(self.snapshot)

    def take(self) -> list[str]:
        """The statements rendered since the last call."""
        taken, self.statements = self.statements, []
        return taken


def sql_text(statement: Emitted, dialect: Dialect) -> str:
    """A statement's SQL as the server receives it (bound values stay placeholders)."""
    if isinstance(statement, str):
        return statement
    assert isinstance(statement, sa.ClauseElement)
    return str(statement.compile(dialect=dialect))


def render_statement(statement: Emitted, dialect: Dialect, params: Any = None) -> str:
    """SQL text of a statement with its values inlined (offline scripts)."""
    if isinstance(statement, str):
        if not params:
            return statement
        statement = sa.text(statement).bindparams(**params)
    assert isinstance(statement, sa.ClauseElement)
    compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return str(compiled).strip()
