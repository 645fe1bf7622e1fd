"""Operations dbshift cannot see into: raw SQL, inserted rows, Python code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from dbshift.ops.base import ExecutionContext, Operation, irreversible
from dbshift.schema.snapshot import Snapshot


@dataclasses.dataclass(frozen=True)
class ExecuteSQL(Operation):
    sql: str | sa.Executable
    params: Any = None
    opaque = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        ctx.emit(self.sql, self.params)

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        raise irreversible(f"raw SQL `{_short(str(self.sql))}`")

    def describe(self) -> str:
        return f"execute {_short(str(self.sql))}"


@dataclasses.dataclass(frozen=True)
class BulkInsert(Operation):
    table: sa.TableClause
    rows: tuple[dict[str, Any], ...]
    opaque = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        if not self.rows:
            return
        if ctx.connection is None:  # offline: one literal INSERT per row
            for row in self.rows:
                ctx.emit(self.table.insert().values(row))
        else:
            ctx.emit(self.table.insert(), list(self.rows))

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        raise irreversible(f"bulk insert into {self.table.name}")

    def describe(self) -> str:
        return f"insert {len(self.rows)} row(s) into {self.table.name}"


@dataclasses.dataclass(frozen=True)
class RunPython(Operation):
    fn: Callable[[sa.Connection], Any]
    opaque = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot

    def execute(self, ctx: ExecutionContext) -> None:
        ctx.run_python(self.fn)

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        raise irreversible(f"Python function {self._name}")

    @property
    def _name(self) -> str:
        return str(getattr(self.fn, "__name__", "function"))

    def describe(self) -> str:
        return f"run {self._name}()"


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
