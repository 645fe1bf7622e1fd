"""The contract every schema operation fulfils.

An operation is an immutable description of one change. The same object is replayed on
a snapshot (no database), executed on a connection, rendered as offline SQL, reversed
for automatic downgrades, described in plans, written as migration code by `make`
(`render_python`) and read by the linter.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dbshift.errors import IrreversibleMigration, MigrationError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Dialect

    from dbshift.facts import Fact, SQLReader
    from dbshift.ops.rendering import RenderContext
    from dbshift.schema.snapshot import Enum, Snapshot, Table

Statement = "sa.Executable | str"


class Finishing(Protocol):
    """A check run once a migration's operations are all done (`ExecutionContext.at_end`)."""

    def finish(self) -> None: ...


class ExecutionContext(abc.ABC):
    """Where operations send their statements: a live connection or an offline script."""

    dialect: Dialect
    #: the schema that unqualified names live in (the configuration's `schema`)
    default_schema: str | None
    #: the checks `at_end` keeps for the end of the migration
    _at_end: dict[str, Finishing] | None = None

    @property
    @abc.abstractmethod
    def connection(self) -> sa.Connection | None:
        """The live connection, or None when rendering offline SQL."""

    @abc.abstractmethod
    def emit(self, statement: sa.Executable | str, params: Any = None) -> None:
        """Execute (online) or render (offline) one statement."""

    @abc.abstractmethod
    def table(self, name: str, schema: str | None = None) -> Table | None:
        """The current definition of a table: reflected online, replayed offline.

        Operations that must rebuild a table (SQLite ALTERs) or restate a column
        (MySQL `MODIFY`) ask for it here."""

    @abc.abstractmethod
    def enums(self, schema: str | None = None) -> dict[str, Enum]:
        """The enum types of `schema` by name (where the backend has enum types): read
        online, in one query, replayed offline. `create_table` and `add_column` create
        the types their columns need that are not there yet (`dbshift.ops.types`)."""

    def run(self, op: Operation) -> None:
        """Carry out one operation here."""
        op.execute(self)

    def at_end(self, key: str, make: Callable[[], Finishing]) -> Any:
        """The check kept under `key` until the migration's operations are all done
        (made by `make()` the first time): a backend's check of the state a whole
        migration leaves, not each step of it (SQLite's foreign keys after a rebuild:
        the next operation may rebuild the table whose key they reference)."""
        if self._at_end is None:
            self._at_end = {}
        found = self._at_end.get(key)
        if found is None:
            found = self._at_end[key] = make()
        return found

    def finish(self) -> None:
        """Run the checks `at_end` kept, in the order they were made, once."""
        kept, self._at_end = self._at_end or {}, None
        for check in kept.values():
            check.finish()

    def run_python(self, fn: Callable[[sa.Connection], Any]) -> None:
        connection = self.connection
        if connection is None:
            raise MigrationError(
                f"op.run({getattr(fn, '__name__', fn)!r}) needs a database connection",
                hint="offline SQL cannot contain Python data migrations; run it online",
            )
        fn(connection)


class Operation(abc.ABC):
    """One schema change. Subclasses are frozen dataclasses."""

    #: True when executing this operation cannot be undone from its own data
    #: (raw SQL, Python code, bulk inserts without keys).
    opaque: bool = False
    #: True when running this operation destroys stored data (a dropped table or column)
    loses_data: bool = False
    #: True when what this operation does to the schema is known only as it runs (a
    #: migration body that reads the database, `ops/live.py`): replay cannot follow it,
    #: as it cannot follow raw DDL
    schema_unknown: bool = False

    @abc.abstractmethod
    def apply(self, snapshot: Snapshot) -> Snapshot:
        """The schema after this change (pure, no database)."""

    @abc.abstractmethod
    def execute(self, ctx: ExecutionContext) -> None:
        """Emit this change's statements for `ctx.dialect`."""

    @abc.abstractmethod
    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        """Operations that undo this one, given the schema before it.

        Raises `IrreversibleMigration` when it cannot be undone."""

    @abc.abstractmethod
    def describe(self) -> str:
        """A one-line human description, e.g. `add column "users"."email"`."""

    @abc.abstractmethod
    def render_python(self, py: RenderContext) -> list[str]:
        """The migration code that records this operation, as `make` writes it: one
        `op.<name>(...)` call (lines unindented; `py` collects the imports it needs),
        which run against the recorder gives this operation back. Operations no call can
        restate (Python functions, bulk inserts, SQLAlchemy statements) raise TypeError
        (`rendering.not_renderable`); `make` never writes them."""

    @abc.abstractmethod
    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        """What the linter knows about this change (`dbshift.facts`): the same facts the
        equivalent raw SQL gives. Raw SQL an operation holds is read with `read_sql`
        (the linter passes one that parses for the backend it lints for). An operation
        no rule is about gives `Fact("other", name=self.describe())`; an empty list
        means no change a rule could see (an `AlterColumn` of a comment alone)."""

    @property
    def static_sql(self) -> bool:
        """Whether the statements this operation sends are a function of the operation
        and of the connection's dialect (backend, server version, driver) and the
        configured schema alone: no table definition or query read from the database, no
        Python code, no bound values. The runner keeps such statements compiled and sends
        them again to other databases (`dbshift.runner.cache`). False unless an
        operation says so; one that says so but reads the database for a given backend
        all the same (SQLite's table rebuild, MySQL's `MODIFY`) is caught as it runs
        (`dbshift.ops.context.Capture`) and not kept."""
        return False

    @property
    def transactional(self) -> bool:
        """False when the statement refuses to run in a transaction block (PostgreSQL's
        CREATE/DROP INDEX CONCURRENTLY): its migration must be marked non-transactional."""
        return True

    def __str__(self) -> str:
        return self.describe()


def inverse(operations: Sequence[Operation], before: Snapshot) -> list[Operation]:
    """The operations that undo `operations` (run on the schema `before`), last first.

    Raises `IrreversibleMigration` when one of them cannot be undone."""
    states = [before]
    for op in operations:
        states.append(op.apply(states[-1]))
    undo: list[Operation] = []
    for op, state in zip(reversed(operations), reversed(states[:-1]), strict=True):
        undo.extend(op.reverse(state))
    return undo


def quoted(*parts: str | None) -> str:
    """Names for describe() and messages: `"schema"."table"."column"`, one line however odd
    the names (quotes doubled, control characters escaped); None parts are left out."""
    return ".".join(
        '"'
        + "".join(c if c.isprintable() else repr(c)[1:-1] for c in part).replace('"', '""')
        + '"'
        for part in parts
        if part is not None
    )


def irreversible(what: str, hint: str = "write a downgrade(op) function") -> IrreversibleMigration:
    return IrreversibleMigration(f"cannot reverse {what}", hint=hint)
