"""Migrations that read the database as they run: Alembic's `op.get_bind()` and
`op.get_context()`.

A migration's `upgrade(op)` is first called with no database: it records operations
(`ops/recorder.py`). While recording, `op.get_bind()` hands out a stand-in connection and
`op.get_context()` a stand-in context that answer what is known without a database (the
`dialect`); a body that only asks that (`if op.get_bind().dialect.name == "sqlite":`)
stays a plain recorded migration. A body that goes further (runs a query, inspects the
catalog, asks `as_sql`) raises `NeedsDatabase` there, and the loader records the whole
body as one `RunLive` operation instead.

Run online, `RunLive` calls the body again with a `LiveOp`, which carries out each
operation the moment it is called, in order with what the body does on the connection:
Alembic's model. The body runs as one unit (like an `op.run` function: one statement of a
statement-by-statement run). Offline (`dbshift sql`) the body runs with the operations
rendered; `op.get_bind()` is then an error naming the migration, and `op.get_context()`
says `as_sql` is True. Replay, `make` and derived downgrades cannot know what such a body
does, so they treat it as raw DDL (`Operation.schema_unknown`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from dbshift.errors import DbshiftError, MigrationError
from dbshift.facts import Fact, SQLReader
from dbshift.ops import current
from dbshift.ops.arguments import checked
from dbshift.ops.base import ExecutionContext, Operation, irreversible
from dbshift.ops.context import OnlineContext
from dbshift.ops.recorder import MigrationContext, Op
from dbshift.ops.rendering import RenderContext, not_renderable
from dbshift.schema.snapshot import Snapshot


@dataclasses.dataclass(frozen=True)
class RunLive(Operation):
    """A migration body (`upgrade(op)` or `downgrade(op)`) that reads the database as it
    runs, carried out operation by operation when it runs (see the module docstring)."""

    fn: Callable[[Op], Any]
    #: the migration's file name, for messages
    migration: str
    #: the dialect name the body's `op.dialect` reads
    dialect: str = "default"
    #: what made it live, e.g. "op.get_bind().execute"
    asked: str = "op.get_bind()"
    #: the migration's naming convention, as (key, template) pairs
    naming_convention: tuple[tuple[Any, Any], ...] = ()
    opaque = True
    schema_unknown = True

    @property
    def _name(self) -> str:
        return str(getattr(self.fn, "__name__", "upgrade"))

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        connection = ctx.connection
        if connection is None:
            self._offline(ctx)
            return
        schema = ctx.default_schema

        def body(conn: sa.Connection) -> None:
            inner = OnlineContext(conn, default_schema=schema)
            current.call(self.fn, self._op(inner))
            inner.finish()

        body.__name__ = self._name
        ctx.run_python(body)

    def _op(self, ctx: ExecutionContext) -> LiveOp:
        convention = dict(self.naming_convention) if self.naming_convention else None
        return LiveOp(self.dialect, ctx, self.migration, convention)

    def _offline(self, ctx: ExecutionContext) -> None:
        try:
            current.call(self.fn, self._op(ctx))
        except DbshiftError:
            raise
        except (KeyboardInterrupt, sa.exc.DBAPIError):
            raise
        except BaseException as error:
            text = str(error).strip().splitlines()
            raise MigrationError(
                f"{self.migration}: {type(error).__name__}: {text[0] if text else ''}",
                hint="fix the migration; run with --debug for the traceback",
            ) from error

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        raise irreversible(
            f"{self._name}() of {self.migration}: it reads the database as it runs ({self.asked})",
            hint="write downgrade(op)",
        )

    def describe(self) -> str:
        return f"run {self._name}(op) against the database ({self.asked})"

    def render_python(self, py: RenderContext) -> list[str]:
        raise not_renderable(self, f"{self._name}() reads the database as it runs")

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        """One opaque fact, as for `op.run`: what the body does is known only as it runs."""
        return [Fact("run_python", name=self._name)]


@checked("op")
class LiveOp(Op):
    """The `op` a `RunLive` body receives when it runs: each call is carried out at once
    on `ctx` (executed online, rendered offline), and `get_bind()` is the connection."""

    def __init__(
        self,
        dialect: str,
        ctx: ExecutionContext,
        migration: str,
        naming_convention: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(dialect, naming_convention=naming_convention)
        self._ctx = ctx
        self._migration = migration

    def _add(self, operation: Operation) -> None:
        self.operations.append(operation)
        self._ctx.run(operation)

    def get_bind(self) -> sa.Connection:
        connection = self._ctx.connection
        if connection is None:
            raise _offline(self._migration, "op.get_bind()")
        return connection

    def get_context(self) -> MigrationContext:
        connection = self._ctx.connection
        return MigrationContext(
            self._ctx.dialect,
            connection,
            as_sql=connection is None,
            version_table_schema=self._ctx.default_schema,
        )


def _offline(migration: str, call: str) -> MigrationError:
    return MigrationError(
        f"{migration}: {call} needs a live database connection, and offline SQL has none",
        hint="run this migration with `dbshift upgrade`, or skip its data work offline "
        "under `if not op.get_context().as_sql:`",
    )
