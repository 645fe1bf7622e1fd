"""Column operations. What differs per backend lives in `dbshift.dialects`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy.types import TypeEngine

from dbshift.dialects import dialect_for
from dbshift.dialects.base import UNCHANGED, ColumnChange, TableEdit, Unchanged, qualified, quote
from dbshift.facts import Fact, SQLReader, column_from_snapshot, type_from_sqlalchemy
from dbshift.ops.base import ExecutionContext, Operation, irreversible, quoted
from dbshift.ops.constraints import CreateIndex, add_constraint
from dbshift.ops.rendering import RenderContext, py_default, py_opt, py_str
from dbshift.ops.types import create_column_enums, drop_column_enums, with_column_enums
from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, Snapshot, Table, Unique


def index_uses(index: Index, column: str) -> bool:
    """Whether `index` is on `column` or INCLUDEs it (PostgreSQL drops it with either)."""
    return column in (*index.columns, *(dict(index.options).get("postgresql_include") or ()))


def without_column(table: Table, column: str) -> Table:
    """`table` minus a column and every index and constraint that uses it (what
    PostgreSQL does; the dialect rules make the other backends end the same)."""
    pk = table.primary_key
    if pk is not None and column in pk.columns:
        rest = tuple(c for c in pk.columns if c != column)
        pk = dataclasses.replace(pk, columns=rest) if rest else None
    return table.replace(
        columns=tuple(c for c in table.columns if c.name != column),
        primary_key=pk,
        indexes=tuple(i for i in table.indexes if not index_uses(i, column)),
        uniques=tuple(u for u in table.uniques if column not in u.columns),
        foreign_keys=tuple(f for f in table.foreign_keys if column not in f.columns),
        checks=tuple(c for c in table.checks if not c.uses(column)),
    )


def renamed_column(table: Table, old: str, new: str) -> Table:
    """`table` with a column renamed everywhere it is referenced."""

    def swap(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if n == old else n for n in names)

    pk = table.primary_key
    return table.replace(
        columns=tuple(
            dataclasses.replace(c, name=new) if c.name == old else c for c in table.columns
        ),
        primary_key=dataclasses.replace(pk, columns=swap(pk.columns)) if pk else None,
        indexes=tuple(
            dataclasses.replace(
                i, columns=swap(i.columns), options=_renamed_options(i.options, old, new)
            )
            for i in table.indexes
        ),
        uniques=tuple(dataclasses.replace(u, columns=swap(u.columns)) for u in table.uniques),
        foreign_keys=tuple(
            dataclasses.replace(f, columns=swap(f.columns)) for f in table.foreign_keys
        ),
    )


#: index keywords that name columns: as a list, and as the keys of a dict
_COLUMN_LISTS = ("postgresql_include",)
_COLUMN_KEYS = ("postgresql_ops", "mysql_length", "mariadb_length")


def _renamed_options(
    options: tuple[tuple[str, Any], ...], old: str, new: str
) -> tuple[tuple[str, Any], ...]:
    """An index's keywords with column `old` named `new` where they name columns."""

    def rename(key: str, value: Any) -> Any:
        if key in _COLUMN_LISTS and isinstance(value, list | tuple):
            return type(value)(new if n == old else n for n in value)
        if key in _COLUMN_KEYS and isinstance(value, dict):
            return {(new if k == old else k): v for k, v in value.items()}
        return value

    return tuple((key, rename(key, value)) for key, value in options)


def with_renamed_references(
    snapshot: Snapshot, table: str, schema: str | None, old: str, new: str
) -> Snapshot:
    """Foreign keys anywhere that point at `table.old` point at `table.new`."""

    def swap(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if n == old else n for n in names)

    for other in list(snapshot.tables.values()):
        fks = tuple(
            dataclasses.replace(f, ref_columns=swap(f.ref_columns))
            if f.ref_table == table and (f.ref_schema or other.schema) == schema
            else f
            for f in other.foreign_keys
        )
        if fks != other.foreign_keys:
            snapshot = snapshot.with_table(other.replace(foreign_keys=fks))
    return snapshot


@dataclasses.dataclass(frozen=True)
class AddColumn(Operation):
    table: str
    column: Column
    schema: str | None = None

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        snapshot = with_column_enums(snapshot, [self.column])
        return snapshot.update_table(self.table, self.schema, self._change_table)

    def _change_table(self, table: Table) -> Table:
        return table.replace(columns=(*table.columns, self.column))

    def execute(self, ctx: ExecutionContext) -> None:
        create_column_enums(ctx, [self.column])
        edit = TableEdit(ctx, self.table, self.schema, self._change_table)
        dialect_for(ctx.dialect).add_column(edit, self.column)

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        dropped = DropColumn(self.table, self.column.name, self.schema)
        return [dropped, *drop_column_enums(before, [self.column])]

    def describe(self) -> str:
        return f"add column {quoted(self.schema, self.table, self.column.name)}"

    def render_python(self, py: RenderContext) -> list[str]:
        column = py.column(self.column, None)
        return py.call("add_column", py_str(self.table), column, schema=py_opt(self.schema))

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [
            Fact(
                "add_column",
                self.table,
                self.schema,
                self.column.name,
                columns=(column_from_snapshot(self.column),),
            )
        ]


@dataclasses.dataclass(frozen=True)
class DropColumn(Operation):
    table: str
    column: str
    schema: str | None = None
    loses_data = True

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.update_table(
            self.table, self.schema, lambda t: without_column(t, self.column)
        )

    def execute(self, ctx: ExecutionContext) -> None:
        edit = TableEdit(ctx, self.table, self.schema, lambda t: without_column(t, self.column))
        dialect_for(ctx.dialect).drop_column(edit, self.column)

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = before.table(self.table, self.schema)
        column = table.column(self.column) if table else None
        where = quoted(self.schema, self.table, self.column)
        if table is None or column is None:
            raise irreversible(
                f"drop column {where}: its definition is unknown (created by raw SQL?)"
            )
        if table.primary_key and self.column in table.primary_key.columns:
            raise irreversible(f"drop of primary key column {where}")
        restore: list[Operation] = [AddColumn(self.table, column, self.schema)]
        restore += [
            CreateIndex(self.table, i, self.schema)
            for i in table.indexes
            if index_uses(i, self.column)
        ]
        constraints: list[Unique | ForeignKey | Check] = [*table.uniques, *table.foreign_keys]
        constraints += [c for c in table.checks if c.uses(self.column)]
        restore += [
            add_constraint(self.table, c, self.schema)
            for c in constraints
            if isinstance(c, Check) or self.column in c.columns
        ]
        return restore

    def describe(self) -> str:
        return f"drop column {quoted(self.schema, self.table, self.column)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call(
            "drop_column", py_str(self.table), py_str(self.column), schema=py_opt(self.schema)
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("drop_column", self.table, self.schema, self.column)]


@dataclasses.dataclass(frozen=True)
class RenameColumn(Operation):
    table: str
    old: str
    new: str
    schema: str | None = None

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        snapshot = snapshot.update_table(
            self.table, self.schema, lambda t: renamed_column(t, self.old, self.new)
        )
        return with_renamed_references(snapshot, self.table, self.schema, self.old, self.new)

    def execute(self, ctx: ExecutionContext) -> None:
        d = ctx.dialect
        ctx.emit(
            f"ALTER TABLE {qualified(d, self.table, self.schema)} "
            f"RENAME COLUMN {quote(d, self.old)} TO {quote(d, self.new)}"
        )

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        return [RenameColumn(self.table, self.new, self.old, self.schema)]

    def describe(self) -> str:
        return f"rename column {quoted(self.schema, self.table, self.old)} to {quoted(self.new)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call(
            "rename_column",
            py_str(self.table),
            py_str(self.old),
            py_str(self.new),
            schema=py_opt(self.schema),
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("rename_column", self.table, self.schema, self.old, new_name=self.new)]


@dataclasses.dataclass(frozen=True)
class AlterColumn(Operation):
    """Change a column's type, nullability, server default or comment.

    `existing` is what the migration says the column was (Alembic's `existing_*`
    arguments); backends that must restate the whole column (MySQL `MODIFY`) use the
    live definition first and fall back to it."""

    table: str
    column: str
    schema: str | None = None
    type: TypeEngine[Any] | None = None
    nullable: bool | None = None
    server_default: str | Unchanged | None = UNCHANGED
    comment: str | Unchanged | None = UNCHANGED
    existing: Column | None = None
    postgresql_using: str | None = None

    static_sql = True

    @property
    def wanted(self) -> ColumnChange:
        return ColumnChange(
            self.type, self.nullable, self.server_default, self.comment, self.postgresql_using
        )

    def changed(self, column: Column) -> Column:
        return self.wanted.applied(column)

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.update_table(self.table, self.schema, self._change_table)

    def execute(self, ctx: ExecutionContext) -> None:
        edit = TableEdit(ctx, self.table, self.schema, self._change_table)
        dialect_for(ctx.dialect).alter_column(edit, self.column, self.wanted, self.existing)

    def _change_table(self, table: Table) -> Table:
        return table.replace(
            columns=tuple(self.changed(c) if c.name == self.column else c for c in table.columns)
        )

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = before.table(self.table, self.schema)
        old = (table.column(self.column) if table else None) or self.existing
        if old is None:
            raise irreversible(
                f"alter column {quoted(self.schema, self.table, self.column)}: "
                "its previous definition is unknown",
                hint="pass existing_type=/existing_nullable=, or write downgrade(op)",
            )
        return [
            AlterColumn(
                self.table,
                self.column,
                self.schema,
                type=old.type if self.type is not None else None,
                nullable=old.nullable if self.nullable is not None else None,
                server_default=old.server_default
                if not isinstance(self.server_default, Unchanged)
                else UNCHANGED,
                comment=old.comment if not isinstance(self.comment, Unchanged) else UNCHANGED,
                existing=self.changed(old),
            )
        ]

    def describe(self) -> str:
        parts = []
        if self.type is not None:
            parts.append(f"type {self.type!r}")
        if self.nullable is not None:
            parts.append("null" if self.nullable else "not null")
        if not isinstance(self.server_default, Unchanged):
            parts.append(f"default {self.server_default}")
        if not isinstance(self.comment, Unchanged):
            parts.append("comment")
        where = quoted(self.schema, self.table, self.column)
        return f"alter column {where}: " + ", ".join(parts)

    def render_python(self, py: RenderContext) -> list[str]:
        old = self.existing
        kwargs: dict[str, str | None] = {}
        if self.type is not None:
            kwargs["type_"] = py.type_code(self.type)
        if self.nullable is not None:
            kwargs["nullable"] = repr(self.nullable)
        if not isinstance(self.server_default, Unchanged):
            kwargs["server_default"] = py_default(self.server_default) or "None"
        if not isinstance(self.comment, Unchanged):
            kwargs["comment"] = py_str(self.comment) if self.comment is not None else "None"
        if old is not None:
            kwargs["existing_type"] = py.type_code(old.type)
            kwargs["existing_nullable"] = repr(old.nullable)
            kwargs["existing_server_default"] = py_default(old.server_default)
            kwargs["existing_comment"] = py_opt(old.comment)
        kwargs["postgresql_using"] = py_opt(self.postgresql_using)
        return py.call(
            "alter_column",
            py_str(self.table),
            py_str(self.column),
            schema=py_opt(self.schema),
            **kwargs,
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        """One fact per change: the type, nullability, the default (a comment has none)."""
        facts: list[Fact] = []
        base: dict[str, Any] = {"table": self.table, "schema": self.schema, "column": self.column}
        old = type_from_sqlalchemy(self.existing.type) if self.existing is not None else None
        if self.type is not None:
            new = type_from_sqlalchemy(self.type)
            facts.append(Fact("alter_type", **base, new_type=new, old_type=old))
        if self.nullable is False:
            facts.append(Fact("set_not_null", **base))
        elif self.nullable is True:
            facts.append(Fact("drop_not_null", **base))
        if isinstance(self.server_default, str):
            facts.append(Fact("set_default", **base, default=self.server_default))
        elif self.server_default is None:  # server_default=None drops it
            facts.append(Fact("drop_default", **base))
        return facts
