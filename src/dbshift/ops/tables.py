"""Whole-table operations."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa

from dbshift.dialects.base import qualified, quote
from dbshift.ops.base import ExecutionContext, Operation, irreversible
from dbshift.schema.snapshot import Snapshot, Table, index_to_sqlalchemy, table_key


@dataclasses.dataclass(frozen=True)
class CreateTable(Operation):
    table: Table
    #: the migration's own SQLAlchemy table, when it gave one: compiled as written,
    #: dialect options (mysql_engine=, postgresql_partition_by=, ...) included
    source: sa.Table | None = dataclasses.field(default=None, compare=False, repr=False)

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.with_table(self.table)

    def execute(self, ctx: ExecutionContext) -> None:
        sa_table = self.source if self.source is not None else self.table.to_sqlalchemy()
        ctx.emit(sa.schema.CreateTable(sa_table))
        for index in sa_table.indexes:
            ctx.emit(sa.schema.CreateIndex(index))

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        return [DropTable(self.table.name, self.table.schema)]

    def describe(self) -> str:
        return f"create table {self.table.key}"


@dataclasses.dataclass(frozen=True)
class DropTable(Operation):
    name: str
    schema: str | None = None

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.without_table(self.name, self.schema)

    def execute(self, ctx: ExecutionContext) -> None:
        ctx.emit(f"DROP TABLE {qualified(ctx.dialect, self.name, self.schema)}")

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = before.table(self.name, self.schema)
        if table is None:
            raise irreversible(
                f"drop table {table_key(self.name, self.schema)}: its definition is unknown "
                "(created by raw SQL?)"
            )
        return [CreateTable(table)]

    def describe(self) -> str:
        return f"drop table {table_key(self.name, self.schema)}"


@dataclasses.dataclass(frozen=True)
class RenameTable(Operation):
    old: str
    new: str
    schema: str | None = None

    def apply(self, snapshot: Snapshot) -> Snapshot:
        table = snapshot.table(self.old, self.schema)
        if table is None:
            return snapshot
        renamed = snapshot.without_table(self.old, self.schema).with_table(
            table.replace(name=self.new)
        )
        for other in renamed.tables.values():
            fks = tuple(
                dataclasses.replace(fk, ref_table=self.new)
                if fk.ref_table == self.old and fk.ref_schema == self.schema
                else fk
                for fk in other.foreign_keys
            )
            if fks != other.foreign_keys:
                renamed = renamed.with_table(other.replace(foreign_keys=fks))
        return renamed

    def execute(self, ctx: ExecutionContext) -> None:
        old, new = qualified(ctx.dialect, self.old, self.schema), quote(ctx.dialect, self.new)
        ctx.emit(f"ALTER TABLE {old} RENAME TO {new}")

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        return [RenameTable(self.new, self.old, self.schema)]

    def describe(self) -> str:
        return f"rename table {table_key(self.old, self.schema)} to {self.new}"


def create_indexes(ctx: ExecutionContext, table: Table) -> None:
    """CREATE INDEX for each index of `table` (used after table rebuilds)."""
    sa_table = table.to_sqlalchemy()
    for index in table.indexes:
        ctx.emit(sa.schema.CreateIndex(index_to_sqlalchemy(index, sa_table)))
