"""Operations dbshift cannot see into: raw SQL, inserted rows, Python code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from dbshift.facts import Fact, SQLReader
from dbshift.ops.base import ExecutionContext, Operation, irreversible, quoted
from dbshift.ops.rendering import RenderContext, not_renderable, py_literal, py_sql
from dbshift.schema.snapshot import Snapshot


@dataclasses.dataclass(frozen=True)
class ExecuteSQL(Operation):
    """Raw SQL: a string, or any SQLAlchemy executable (`sa.text`, `insert()`, ...)."""

    sql: str | sa.Executable
    params: Any = None
    #: SQLAlchemy execution options, as sorted (key, value) pairs; online only
    execution_options: tuple[tuple[str, Any], ...] = ()
    opaque = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        statement = self.sql
        if self.execution_options and ctx.connection is not None:
            executable = sa.text(statement) if isinstance(statement, str) else statement
            statement = executable.execution_options(**dict(self.execution_options))
        ctx.emit(statement, self.params)

    @property
    def static_sql(self) -> bool:
        """SQL text without bound values or execution options is sent as written."""
        return isinstance(self.sql, str) and not self.params and not self.execution_options

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        raise irreversible(
            f"raw SQL `{_short(str(self.sql))}`",
            hint="write downgrade(op) with the SQL that undoes it",
        )

    def describe(self) -> str:
        return f"execute {_short(str(self.sql))}"

    def render_python(self, py: RenderContext) -> list[str]:
        if not isinstance(self.sql, str):
            raise not_renderable(self, "a SQLAlchemy statement has no literal form")
        options = dict(self.execution_options) if self.execution_options else None
        return py.call(
            "execute",
            py_sql(self.sql),
            params=py_literal(self.params),
            execution_options=py_literal(options),
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        """SQL text is read by `read_sql`; of a SQLAlchemy statement, DML is read off its
        class and anything else compiled to text and read."""
        statement = self.sql
        if isinstance(statement, str):
            return read_sql(statement)
        table = getattr(getattr(statement, "table", None), "name", None)
        if getattr(statement, "is_dml", False):
            if isinstance(statement, sa.Delete | sa.Update):
                kind = "delete" if isinstance(statement, sa.Delete) else "update"
                return [Fact(kind, table, has_where=statement.whereclause is not None)]
            return [Fact("insert", table)]
        return read_sql(str(statement))


@dataclasses.dataclass(frozen=True)
class BulkInsert(Operation):
    """Rows into a table given as `sa.Table` or `sa.table(...)` (its columns are those
    the rows fill). Online: one executemany, or one INSERT per row without `multiinsert`."""

    table: sa.TableClause
    rows: tuple[dict[str, Any], ...]
    multiinsert: bool = True
    opaque = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        if not self.rows:
            return
        if ctx.connection is None or not self.multiinsert:  # offline: literal INSERTs
            for row in self.rows:
                ctx.emit(self.table.insert().values(self._typed(row)))
        else:
            ctx.emit(self.table.insert(), list(self.rows))

    def _typed(self, row: dict[str, Any]) -> dict[str, Any]:
        """Values of untyped columns (`sa.column("x")`) typed from the Python value, so
        that offline SQL can render them."""
        columns = self.table.c
        return {
            key: sa.literal(value)
            if key in columns and isinstance(columns[key].type, sa.types.NullType)
            else value
            for key, value in row.items()
        }

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        raise irreversible(
            f"bulk insert into {quoted(self.table.schema, self.table.name)}",
            hint="write downgrade(op) that deletes the rows",
        )

    def describe(self) -> str:
        where = quoted(self.table.schema, self.table.name)
        return f"insert {len(self.rows)} row(s) into {where}"

    def render_python(self, py: RenderContext) -> list[str]:
        raise not_renderable(self, "its table's column types have no literal form")

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("insert", self.table.name, self.table.schema)]


@dataclasses.dataclass(frozen=True)
class RunPython(Operation):
    fn: Callable[[sa.Connection], Any]
    opaque = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        ctx.run_python(self.fn)

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        raise irreversible(
            f"Python function {self._name}()", hint="write downgrade(op) that undoes it"
        )

    @property
    def _name(self) -> str:
        return str(getattr(self.fn, "__name__", "function"))

    def describe(self) -> str:
        return f"run {self._name}()"

    def render_python(self, py: RenderContext) -> list[str]:
        raise not_renderable(self, f"{self._name}() is Python code, not a call to restate")

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        """One opaque fact: what the code does is not known."""
        return [Fact("run_python", name=self._name)]


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
