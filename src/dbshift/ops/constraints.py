"""Indexes and constraints."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa

from dbshift.dialects import dialect_for
from dbshift.dialects.base import stub_table
from dbshift.errors import MigrationError
from dbshift.ops.base import ExecutionContext, Operation, irreversible
from dbshift.schema.snapshot import (
    Check,
    ForeignKey,
    Index,
    PrimaryKey,
    Snapshot,
    Table,
    Unique,
    index_to_sqlalchemy,
    table_key,
)

Constraint = ForeignKey | Unique | Check | PrimaryKey
KINDS = {"foreignkey": ForeignKey, "unique": Unique, "check": Check, "primary": PrimaryKey}


def with_constraint(table: Table, constraint: Constraint) -> Table:
    if isinstance(constraint, PrimaryKey):
        return table.replace(primary_key=constraint)
    if isinstance(constraint, ForeignKey):
        return table.replace(foreign_keys=(*table.foreign_keys, constraint))
    if isinstance(constraint, Unique):
        return table.replace(uniques=(*table.uniques, constraint))
    return table.replace(checks=(*table.checks, constraint))


def find_constraint(table: Table, name: str) -> Constraint | None:
    everything: list[Constraint] = [*table.foreign_keys, *table.uniques, *table.checks]
    everything += [Unique(i.name, i.columns) for i in table.indexes if i.unique]
    if table.primary_key is not None:
        everything.append(table.primary_key)
    return next((c for c in everything if c.name == name), None)


def without_constraint(table: Table, name: str) -> Table:
    pk = table.primary_key
    return table.replace(
        primary_key=None if pk is not None and pk.name == name else pk,
        foreign_keys=tuple(c for c in table.foreign_keys if c.name != name),
        uniques=tuple(c for c in table.uniques if c.name != name),
        checks=tuple(c for c in table.checks if c.name != name),
        indexes=tuple(i for i in table.indexes if not (i.unique and i.name == name)),
    )


@dataclasses.dataclass(frozen=True)
class CreateIndex(Operation):
    table: str
    index: Index
    schema: str | None = None

    def apply(self, snapshot: Snapshot) -> Snapshot:
        table = snapshot.table(self.table, self.schema)
        if table is None:
            return snapshot
        return snapshot.with_table(table.replace(indexes=(*table.indexes, self.index)))

    def execute(self, ctx: ExecutionContext) -> None:
        plain = [c for c in self.index.columns if c not in self.index.expressions]
        ctx.emit(
            sa.schema.CreateIndex(
                index_to_sqlalchemy(self.index, stub_table(self.table, self.schema, plain))
            )
        )

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        return [DropIndex(self.index.name, self.table, self.schema)]

    def describe(self) -> str:
        unique = "unique " if self.index.unique else ""
        return f"create {unique}index {self.index.name} on {table_key(self.table, self.schema)}"


@dataclasses.dataclass(frozen=True)
class DropIndex(Operation):
    name: str
    table: str | None = None
    schema: str | None = None

    def _owner(self, snapshot: Snapshot) -> Table | None:
        if self.table is not None:
            return snapshot.table(self.table, self.schema)
        return next(
            (t for t in snapshot.tables.values() if any(i.name == self.name for i in t.indexes)),
            None,
        )

    def apply(self, snapshot: Snapshot) -> Snapshot:
        table = self._owner(snapshot)
        if table is None:
            return snapshot
        return snapshot.with_table(
            table.replace(indexes=tuple(i for i in table.indexes if i.name != self.name))
        )

    def execute(self, ctx: ExecutionContext) -> None:
        if self.table is None and ctx.dialect.name in ("mysql", "mariadb"):
            raise MigrationError(
                f"drop_index({self.name!r}) needs the table name on MySQL/MariaDB",
                hint=f'write op.drop_index("{self.name}", "<table>")',
            )
        index = sa.Index(self.name, _table=stub_table(self.table or "unknown", self.schema))
        ctx.emit(sa.schema.DropIndex(index))

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = self._owner(before)
        index = next((i for i in table.indexes if i.name == self.name), None) if table else None
        if table is None or index is None:
            raise irreversible(f"drop index {self.name}: its definition is unknown")
        return [CreateIndex(table.name, index, table.schema)]

    def describe(self) -> str:
        where = f" on {table_key(self.table, self.schema)}" if self.table else ""
        return f"drop index {self.name}{where}"


@dataclasses.dataclass(frozen=True)
class AddConstraint(Operation):
    table: str
    constraint: Constraint
    schema: str | None = None

    def apply(self, snapshot: Snapshot) -> Snapshot:
        table = snapshot.table(self.table, self.schema)
        return (
            snapshot
            if table is None
            else snapshot.with_table(with_constraint(table, self.constraint))
        )

    def execute(self, ctx: ExecutionContext) -> None:
        dialect_for(ctx.dialect).add_constraint(
            ctx,
            self.table,
            self.schema,
            self.constraint,
            lambda t: with_constraint(t, self.constraint),
        )

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        if self.constraint.name is None:
            raise irreversible(
                f"{self.describe()}: the constraint has no name", hint="give the constraint a name"
            )
        kind = next(k for k, v in KINDS.items() if isinstance(self.constraint, v))
        return [DropConstraint(self.constraint.name, self.table, kind, self.schema)]

    def describe(self) -> str:
        kind = type(self.constraint).__name__.lower()
        name = f" {self.constraint.name}" if self.constraint.name else ""
        return f"add {kind}{name} to {table_key(self.table, self.schema)}"


@dataclasses.dataclass(frozen=True)
class DropConstraint(Operation):
    name: str
    table: str
    kind: str | None = None  # foreignkey, unique, check, primary; looked up when None
    schema: str | None = None

    def apply(self, snapshot: Snapshot) -> Snapshot:
        table = snapshot.table(self.table, self.schema)
        return (
            snapshot if table is None else snapshot.with_table(without_constraint(table, self.name))
        )

    def execute(self, ctx: ExecutionContext) -> None:
        rules = dialect_for(ctx.dialect)
        current = (
            ctx.table(self.table, self.schema)
            if self.kind is None or rules.name == "sqlite"
            else None
        )
        rules.drop_constraint(
            ctx,
            self.table,
            self.schema,
            self.resolve(current),
            lambda t: without_constraint(t, self.name),
        )

    def resolve(self, table: Table | None) -> Constraint:
        """The constraint being dropped: from the table's definition, or from `kind`."""
        found = find_constraint(table, self.name) if table is not None else None
        if found is not None:
            return found
        if self.kind not in KINDS:
            raise MigrationError(
                f"constraint {self.name} not found on {table_key(self.table, self.schema)}",
                hint="pass type_= ('foreignkey', 'unique', 'check' or 'primary')",
            )
        return _placeholder(self.kind, self.name)

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = before.table(self.table, self.schema)
        found = find_constraint(table, self.name) if table else None
        if found is None:
            raise irreversible(f"drop constraint {self.name}: its definition is unknown")
        return [AddConstraint(self.table, found, self.schema)]

    def describe(self) -> str:
        return f"drop constraint {self.name} from {table_key(self.table, self.schema)}"


def _placeholder(kind: str, name: str) -> Constraint:
    if kind == "foreignkey":
        return ForeignKey(name, ("x",), "unknown", ("x",))
    if kind == "unique":
        return Unique(name, ("x",))
    if kind == "primary":
        return PrimaryKey(("x",), name)
    return Check(name, "1 = 1")
