"""DDL that differs per backend. Each backend is a small class overriding only what differs.

Rules receive plain snapshot data (tables, columns, constraints) and a context to emit
statements to; they never see operation objects, so this layer sits below `ops/`.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from dbshift.errors import MigrationError
from dbshift.schema.snapshot import (
    Check,
    Column,
    ForeignKey,
    Index,
    PrimaryKey,
    Table,
    Unique,
    table_key,
)

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext

Constraint = ForeignKey | Unique | Check | PrimaryKey
TableChange = Callable[[Table], Table]


@dataclasses.dataclass(frozen=True)
class TableEdit:
    """The table one column or constraint hook alters: where its statements go, the
    table, and the whole change as a function of the table's definition (what a
    backend that rebuilds the table, SQLite, applies instead of an ALTER)."""

    ctx: ExecutionContext
    table: str
    schema: str | None
    change: TableChange

    @property
    def qualified(self) -> str:
        """The table's name, quoted and schema-qualified for the context's dialect."""
        return qualified(self.ctx.dialect, self.table, self.schema)


class Unchanged:
    """Marks an `alter_column` attribute that does not change."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged()


@dataclasses.dataclass(frozen=True)
class ColumnChange:
    """What an `alter_column` asks for; `None`/`UNCHANGED` mean unchanged."""

    type: TypeEngine[Any] | None = None
    nullable: bool | None = None
    server_default: str | Unchanged | None = UNCHANGED
    comment: str | Unchanged | None = UNCHANGED
    using: str | None = None

    def applied(self, column: Column) -> Column:
        changes: dict[str, Any] = {}
        if self.type is not None:
            changes["type"] = self.type
        if self.nullable is not None:
            changes["nullable"] = self.nullable
        if not isinstance(self.server_default, Unchanged):
            changes["server_default"] = self.server_default
        if not isinstance(self.comment, Unchanged):
            changes["comment"] = self.comment
        return dataclasses.replace(column, **changes)


def quote(dialect: Dialect, name: str) -> str:
    """An identifier quoted by the dialect: always safe to put in SQL."""
    return str(dialect.identifier_preparer.quote(name))


def qualified(dialect: Dialect, name: str, schema: str | None) -> str:
    preparer = dialect.identifier_preparer
    if schema:
        return f"{preparer.quote_schema(schema)}.{preparer.quote(name)}"
    return str(preparer.quote(name))


def type_sql(dialect: Dialect, type_: TypeEngine[Any]) -> str:
    return str(dialect.type_compiler_instance.process(type_))


def column_spec(dialect: Dialect, table: Table, column: str) -> str:
    """The dialect's full definition of one column of `table` (for ADD and MODIFY)."""
    sa_table = table.to_sqlalchemy()
    compiler = dialect.ddl_compiler(dialect, None)  # type: ignore[arg-type]
    return str(compiler.get_column_specification(sa_table.c[column]))


def separate_comments(ctx: ExecutionContext, table: sa.Table) -> None:
    """Comments of a new table or column, on backends that set them with separate
    statements (PostgreSQL's COMMENT ON), as `create_all` does."""
    dialect = ctx.dialect
    if not dialect.supports_comments or dialect.inline_comments:
        return
    if table.comment is not None:
        ctx.emit(sa.schema.SetTableComment(table))
    for column in table.columns:
        if column.comment is not None:
            ctx.emit(sa.schema.SetColumnComment(column))


def stub_table(name: str, schema: str | None, columns: Sequence[str] = ()) -> sa.Table:
    """A table holding just the named columns: enough to compile DDL about it."""
    return sa.Table(
        name, sa.MetaData(), *[sa.Column(c, sa.Integer) for c in columns], schema=schema
    )


def plain_index_sql(
    dialect: Dialect, index: Index, table: str, schema: str | None, if_not_exists: bool
) -> str | None:
    """`CREATE INDEX` for a plain index (named columns, no dialect option, no schema
    named) written as SQLAlchemy compiles it against a stub table, through the same
    identifier preparer, without building the table and the index for it (issue 14:
    most indexes are plain, and the stub cost more than the rest of the statement).
    None when the index is not plain, or a name holds a `%` (SQLAlchemy's text doubles
    it for the driver, raw SQL does not): the caller compiles it. Only for backends
    whose rules say they compile plain indexes the standard way (`plain_indexes`);
    `tests/test_operations.py` compares the two on each."""
    columns = index.columns
    if index.options or index.expressions or schema or not index.name:
        return None
    if len(set(columns)) != len(columns) or any("%" in n for n in (index.name, table, *columns)):
        return None
    preparer = dialect.identifier_preparer
    name = preparer.truncate_and_render_index_name(index.name)
    head = "CREATE UNIQUE INDEX " if index.unique else "CREATE INDEX "
    if if_not_exists:
        head += "IF NOT EXISTS "
    listed = ", ".join(preparer.quote(c) for c in columns)
    return f"{head}{name} ON {preparer.quote(table)} ({listed})"


def sa_constraint(table: str, schema: str | None, constraint: Constraint) -> sa.Constraint:
    """`constraint` as a SQLAlchemy object on a stub table, for Add/DropConstraint."""
    if isinstance(constraint, Check):
        check = sa.CheckConstraint(sa.text(constraint.sqltext), name=constraint.name)
        stub_table(table, schema).append_constraint(check)
        return check
    names = list(constraint.columns)
    if isinstance(constraint, ForeignKey) and constraint.ref_table == table:
        names += [c for c in constraint.ref_columns if c not in names]  # self-reference
    shell = Table(
        name=table,
        schema=schema,
        columns=tuple(Column(c, sa.Integer()) for c in names),
        foreign_keys=(constraint,) if isinstance(constraint, ForeignKey) else (),
        uniques=(constraint,) if isinstance(constraint, Unique) else (),
    )
    sa_table = shell.to_sqlalchemy()
    if isinstance(constraint, PrimaryKey):
        pk = sa.PrimaryKeyConstraint(
            *constraint.columns, name=constraint.name, **dict(constraint.options)
        )
        sa_table.append_constraint(pk)
        return pk
    kind = sa.ForeignKeyConstraint if isinstance(constraint, ForeignKey) else sa.UniqueConstraint
    return next(c for c in sa_table.constraints if isinstance(c, kind))


def _nothing() -> None:
    return None


def server_version(conn: sa.Connection) -> tuple[int, ...]:
    """The server's version, as the dialect read it on connecting."""
    return tuple(getattr(conn.dialect, "server_version_info", None) or ())


def is_drop(sql: str) -> bool:
    return re.search(r"\bDROP\b", sql, re.IGNORECASE) is not None


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """How long one migration's statements may wait for a table lock, and run, in
    seconds (0: no limit). `statement` None leaves the server's setting alone."""

    lock: float
    statement: float | None = None


#: undoes a session setting; `set_timeouts` returns one for a session-wide change
Restore = Callable[[], None]


class Commit(enum.Enum):
    """How one statement of a statement-by-statement migration commits, and so whether
    the history's record of it can commit with it (see `DialectRules.commit_of`)."""

    #: in a transaction of its own that also records it: it is recorded exactly when
    #: it commits, so after a lost connection the history is exact
    WITH_RECORD = "with its record"
    #: the statement commits itself (MySQL's DDL); its record follows in a second commit
    ITSELF = "by itself"
    #: it cannot run inside a transaction block (`CREATE INDEX CONCURRENTLY`): it runs
    #: in autocommit mode, and its record follows
    OUTSIDE = "outside a transaction"


@dataclasses.dataclass(frozen=True)
class InDoubt:
    """What the database shows about a statement that a run cut off may have completed
    (one that does not commit with its record; see `DialectRules.in_doubt`)."""

    #: done: it completed, count it; run: run it (it did not complete, or running it
    #: again is harmless, or its error will tell: `already_applied`); ask: stop, a person
    #: must look
    verdict: Literal["done", "run", "ask"]
    #: what was seen, for the message (`index ix is INVALID`)
    reason: str = ""
    hint: str | None = None


def leading_words(sql: str, count: int = 12) -> list[str]:
    """The first `count` tokens of a statement, comments skipped: words (as written),
    quoted names and strings whole, and single punctuation characters."""
    words = []
    for match in _TOKEN.finditer(sql):
        token = match.group("token")
        if token is None:
            continue
        words.append(token)
        if len(words) >= count:
            break
    return words


_TOKEN = re.compile(
    r"""\s+|--[^\n]*|/\*.*?\*/|(?P<token>"(?:[^"]|"")*"|`(?:[^`]|``)*`|'(?:[^']|'')*'"""
    r"""|\$(?P<tag>[A-Za-z_]\w*|)\$.*?\$(?P=tag)\$|[A-Za-z_][\w$]*|.)""",
    re.S,
)


def upper(words: Sequence[str]) -> list[str]:
    """`words` with unquoted words in capitals, to compare with keywords."""
    return [w.upper() if w[:1].isalpha() or w[:1] == "_" else w for w in words]


class DialectRules:
    """Generic SQL: how a backend's DDL is written and how its statements commit and
    fail. The backend's flags and limits are on its `Backend`
    (`dbshift.dialects.backend_for`); each backend's rules live in its package."""

    #: the query for this connection's id as other sessions see it (for `blocker`)
    session_query: str | None = None
    #: SQLAlchemy compiles a plain `CREATE INDEX` the standard way, so `plain_index_sql`
    #: may write it (checked per backend by a test); False for a dialect not checked
    plain_indexes: bool = False

    def already_exists(self, error: BaseException) -> bool:
        """Whether the driver's `error` says that what the statement creates is already
        there (a table, a column, an index, ...). Standard SQL has no portable code for
        it: never, unless the backend tells."""
        return False

    def commit_of(self, sql: str, server_version: tuple[int, ...] = ()) -> Commit:
        """How `sql` commits in a statement-by-statement migration: the one place that
        decides which statements can run in a transaction with their progress record.
        Standard SQL with transactional DDL: every statement can."""
        return Commit.WITH_RECORD

    def in_doubt(self, conn: sa.Connection, sql: str) -> InDoubt:
        """Asked on resuming a run that was cut off while `sql` ran, for a statement
        that does not commit with its record (`commit_of`): did it complete? By default
        a statement that commits by itself runs again (its error, `already_applied`,
        shows whether it had completed); one run outside a transaction cannot be told."""
        if self.commit_of(sql, server_version(conn)) is Commit.ITSELF:
            return InDoubt("run")
        return InDoubt("ask", "the database cannot tell whether it completed")

    def already_applied(self, sql: str, error: BaseException) -> bool:
        """Whether `sql` failing with `error` shows the statement already took effect:
        what it creates exists, or what it drops is gone. Asked only about the one
        statement that may have completed in a run that was killed or cut off."""
        return self.already_exists(error)

    def bookkeeping_schema(self, conn: sa.Connection, table: str) -> str | None:
        """The schema an unqualified `table` means on this connection now: where it is,
        else where CREATE TABLE would put it. Called before any migration runs, so that
        the runner names its tables with it and a migration that changes the session's
        search path (`SET search_path`, MySQL's `USE`) cannot lose them. None where
        unqualified names do not depend on the session (SQLite)."""
        return None

    def lock_timed_out(self, error: BaseException) -> bool:
        """Whether the driver's `error` is a statement giving up waiting for a lock:
        the migration may be retried. Never, unless the backend tells."""
        return False

    def set_timeouts(self, conn: sa.Connection, timeouts: Timeouts, *, local: bool) -> Restore:
        """Apply `timeouts` to the statements that follow: until the transaction ends
        when `local`, else for the session, until the returned function is called.
        Backends without such settings (SQLite: one writer, no lock queue) do nothing."""
        return _nothing

    def local_timeouts(
        self, timeouts: Timeouts
    ) -> tuple[tuple[sa.ColumnElement[Any], ...], dict[str, Any]]:
        """`set_timeouts(..., local=True)` as SELECT columns and their parameters, for
        the runner to add to the history read that opens a migration's transaction
        (one round trip fewer); `((), {})` where they would do nothing."""
        return (), {}

    def blocker(self, conn: sa.Connection, session: str) -> str | None:
        """Asked on another connection while `session` waits: the lock it waits for
        and who holds it, as words for an error message, if the database tells."""
        return None

    def add_column(self, edit: TableEdit, column: Column) -> None:
        ctx = edit.ctx
        shell = Table(edit.table, (column,), schema=edit.schema)
        spec = column_spec(ctx.dialect, shell, column.name)
        ctx.emit(f"ALTER TABLE {edit.qualified} ADD COLUMN {spec}")
        separate_comments(ctx, shell.to_sqlalchemy())

    def drop_column(self, edit: TableEdit, column: str) -> None:
        edit.ctx.emit(f"ALTER TABLE {edit.qualified} DROP COLUMN {quote(edit.ctx.dialect, column)}")

    def alter_column(
        self, edit: TableEdit, column: str, wanted: ColumnChange, existing: Column | None
    ) -> None:
        """Standard `ALTER COLUMN` clauses, one statement per requested change."""
        ctx, table, schema = edit.ctx, edit.table, edit.schema
        head = f"ALTER TABLE {edit.qualified} ALTER COLUMN {quote(ctx.dialect, column)}"
        if wanted.type is not None:
            self.alter_type(ctx, head, wanted.type, wanted.using)
        if wanted.nullable is not None:
            ctx.emit(f"{head} {'DROP' if wanted.nullable else 'SET'} NOT NULL")
        if not isinstance(wanted.server_default, Unchanged):
            default = wanted.server_default
            ctx.emit(f"{head} DROP DEFAULT" if default is None else f"{head} SET DEFAULT {default}")
        if not isinstance(wanted.comment, Unchanged):
            sa_column = sa.Column(column, sa.Integer(), comment=wanted.comment)
            sa.Table(table, sa.MetaData(), sa_column, schema=schema)
            if wanted.comment is None:
                ctx.emit(sa.schema.DropColumnComment(sa_column))
            else:
                ctx.emit(sa.schema.SetColumnComment(sa_column))

    def alter_type(
        self, ctx: ExecutionContext, head: str, type_: TypeEngine[Any], using: str | None
    ) -> None:
        """`head` is `ALTER TABLE t ALTER COLUMN c`; `using` is PostgreSQL's only."""
        ctx.emit(f"{head} TYPE {type_sql(ctx.dialect, type_)}")

    def add_constraint(self, edit: TableEdit, constraint: Constraint) -> None:
        edit.ctx.emit(sa.schema.AddConstraint(sa_constraint(edit.table, edit.schema, constraint)))

    def drop_constraint(self, edit: TableEdit, constraint: Constraint) -> None:
        edit.ctx.emit(sa.schema.DropConstraint(sa_constraint(edit.table, edit.schema, constraint)))

    def drop_index(
        self,
        ctx: ExecutionContext,
        table: str | None,
        schema: str | None,
        index: sa.Index,
        if_exists: bool,
    ) -> None:
        """`index` is on a stub of `table`, with the dialect keywords of the statement."""
        ctx.emit(sa.schema.DropIndex(index, if_exists=if_exists))

    def set_table_comment(
        self, ctx: ExecutionContext, table: str, schema: str | None, comment: str | None
    ) -> None:
        sa_table = sa.Table(table, sa.MetaData(), schema=schema, comment=comment)
        if comment is None:
            ctx.emit(sa.schema.DropTableComment(sa_table))
        else:
            ctx.emit(sa.schema.SetTableComment(sa_table))

    def type_from_ddl(self, dialect: Dialect, text: str) -> TypeEngine[Any] | None:
        """This backend's own SQLAlchemy type for a column type written as DDL text
        (`DATETIME(6)`), as introspection reads the catalog's text; None if it has none.
        The caller compiles the result back and keeps it only if it gives `text`."""
        return None

    def current_table(self, ctx: ExecutionContext, table: str, schema: str | None) -> Table:
        found = ctx.table(table, schema)
        if found is None:
            raise MigrationError(
                f"table {table_key(table, schema)} does not exist",
                hint="check the table name, and the migrations that create it",
            )
        return found
