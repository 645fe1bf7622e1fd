"""Where operations send statements: a live connection, or an offline script."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement

from dbshift.dialects import backend_for
from dbshift.ops.base import ExecutionContext, Operation
from dbshift.schema.reflect import reflect_table
from dbshift.schema.snapshot import Enum, Snapshot, Table

Emitted = sa.Executable | str


@dataclasses.dataclass(frozen=True, slots=True)
class DriverSQL:
    """One statement as the driver receives it: its text, compiled for the connection's
    dialect, and how it is sent. Kept by the runner's statement cache
    (`dbshift.runner.cache`) and sent again, to another database, without the operation
    that made it."""

    text: str
    #: sent as SQLAlchemy sends DDL (with empty parameters: a driver that formats them
    #: turns the dialect's doubled `%%` back into `%`); else as raw SQL text is, without
    #: parameter processing
    ddl: bool


class _Verbatim(ExecutableDDLElement):
    """DDL already compiled: executed as DDL (the same execution context, events and
    driver call as the element it was compiled from), its text given verbatim."""

    def __init__(self, text: str) -> None:
        self.text = text


@compiles(_Verbatim)
def _verbatim(element: _Verbatim, compiler: Any, **kw: Any) -> str:
    return element.text


@dataclasses.dataclass(frozen=True)
class Compiled:
    """A migration's upgrade as the statements it sent, one tuple per operation, in
    order (see `Capture`); `lines` are the source lines of its operations, where its
    code tells (SQL migrations)."""

    statements: tuple[tuple[DriverSQL, ...], ...]
    lines: tuple[int, ...] = ()

    def flat(self) -> list[DriverSQL]:
        return [sql for group in self.statements for sql in group]


class Capture:
    """Collects the statements a migration sends as `DriverSQL`, one group per operation
    (`next_operation` starts the next), to keep them compiled. `live` says why they may
    not be kept: an operation read the database (a table's definition, a query of its
    own), ran Python code, or sent a statement with bound values; `None` when none did."""

    def __init__(self) -> None:
        self.groups: list[tuple[DriverSQL, ...]] = []
        self._current: list[DriverSQL] = []
        self.live: str | None = None

    def add(self, sql: DriverSQL) -> None:
        self._current.append(sql)

    def next_operation(self) -> None:
        self.groups.append(tuple(self._current))
        self._current = []

    def result(self, lines: tuple[int, ...]) -> Compiled | None:
        """What was captured, or None when it may not be kept."""
        if self.live is not None:
            return None
        return Compiled(tuple(self.groups), lines)


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
    records per-statement progress with one where DDL is not transactional.

    A statement without bound values (raw SQL text, DDL) is compiled once, to a
    `DriverSQL`, and sent as that (`emit_driver`); a `capture` collects those, and
    notes whatever makes them unfit to keep (`Capture.live`): a table read, the
    connection asked for, Python code run, a statement with bound values."""

    def __init__(
        self,
        connection: sa.Connection,
        *,
        default_schema: str | None = None,
        on_statement: Callable[[str], None] | None = None,
        journal: Journal | None = None,
        capture: Capture | None = None,
    ) -> None:
        self._connection = connection
        self.dialect = connection.dialect
        self.executed = 0  # statements that succeeded
        self.default_schema = default_schema
        self.on_statement = on_statement
        self.journal = journal
        self.capture = capture

    @property
    def connection(self) -> sa.Connection:
        if self.capture is not None:
            self.capture.live = self.capture.live or "it queries the database"
        return self._connection

    def emit(self, statement: Emitted, params: Any = None) -> None:
        driver = driver_sql(statement, self.dialect) if not params else None
        if driver is not None:
            self.emit_driver(driver)
            return
        if self.capture is not None:
            self.capture.live = self.capture.live or "a statement has bound values"
        journal = self.journal
        # compiled to text only when someone listens
        text = sql_text(statement, self.dialect) if journal or self.on_statement else ""
        self._send(text, lambda: self._execute(statement, params))

    def emit_driver(self, sql: DriverSQL) -> None:
        """Send one statement compiled before (by `emit`, or kept by the runner)."""
        if self.capture is not None:
            self.capture.add(sql)
        connection = self._connection
        if sql.ddl:
            self._send(sql.text, lambda: connection.execute(_Verbatim(sql.text)))
        else:  # no bind-parameter parsing: `:name` and `%` in raw SQL stay as written
            self._send(
                sql.text,
                lambda: connection.exec_driver_sql(
                    sql.text, execution_options={"no_parameters": True}
                ),
            )

    def _send(self, text: str, execute: Callable[[], object]) -> None:
        journal = self.journal
        if journal is not None and journal.skip(text):
            return
        with journal.executing(text) if journal is not None else contextlib.nullcontext():
            try:
                execute()
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
            self._connection.execute(sa.text(statement), params)
        else:
            self._connection.execute(statement, params)

    def run_python(self, fn: Callable[[sa.Connection], Any]) -> None:
        if self.capture is not None:
            self.capture.live = self.capture.live or "it runs Python code"
        marker = python_marker(fn)
        if self.journal is not None and self.journal.skip(marker):
            return
        with self.journal.executing(marker) if self.journal else contextlib.nullcontext():
            _call(fn, self._connection)
        if self.journal is not None:
            self.journal.done(marker)

    def table(self, name: str, schema: str | None = None) -> Table | None:
        if self.capture is not None:
            self.capture.live = self.capture.live or "it reads a table's definition"
        return reflect_table(self._connection, name, schema)

    def enums(self, schema: str | None = None) -> dict[str, Enum]:
        if self.capture is not None:
            self.capture.live = self.capture.live or "it reads the enum types"
        return {e.name: e for e in backend_for(self.dialect).read_enums(self._connection, schema)}


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

    def enums(self, schema: str | None = None) -> dict[str, Enum]:
        return {e.name: e for e in self.snapshot.enums.values() if e.schema == schema}

    def run(self, op: Operation) -> None:
        op.execute(self)
        self.snapshot = op.apply(self.snapshot)

    def take(self) -> list[str]:
        """The statements rendered since the last call."""
        taken, self.statements = self.statements, []
        return taken


def driver_sql(statement: Emitted, dialect: Dialect) -> DriverSQL | None:
    """A statement without bound values as the driver will receive it: raw SQL text as
    written, DDL compiled; None for anything else (a query, DML, `sa.text`, an element
    with execution options), which is sent as it is."""
    if isinstance(statement, str):
        return DriverSQL(statement, ddl=False)
    if isinstance(statement, ExecutableDDLElement) and not statement._execution_options:
        return DriverSQL(str(statement.compile(dialect=dialect)), ddl=True)
    return None


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
    if isinstance(statement, ExecutableDDLElement):
        # as it is compiled to run (`driver_sql`): DDL inlines its values itself, and
        # other packages' compile hooks for DDL (Alembic's, when it is imported) expect
        # SQLAlchemy's own arguments
        return str(statement.compile(dialect=dialect)).strip()
    assert isinstance(statement, sa.ClauseElement)
    compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return str(compiled).strip()
