"""Whole-table operations."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa

from dbshift.dialects import dialect_for
from dbshift.dialects.base import qualified, quote, separate_comments
from dbshift.facts import Fact, SQLReader, column_from_snapshot, reference_from_snapshot
from dbshift.ops.base import ExecutionContext, Operation, irreversible, quoted
from dbshift.ops.constraints import CreateIndex
from dbshift.ops.rendering import (
    RenderContext,
    constraint_call,
    pk_name,
    py_opt,
    py_sql,
    py_str,
)
from dbshift.ops.types import create_column_enums, drop_column_enums, with_column_enums
from dbshift.schema.snapshot import Snapshot, Table, Unique, in_create_order


@dataclasses.dataclass(frozen=True)
class CreateTable(Operation):
    table: Table
    #: the migration's own SQLAlchemy table, when it gave one: compiled as written,
    #: dialect options (mysql_engine=, postgresql_partition_by=, ...) included
    source: sa.Table | None = dataclasses.field(default=None, compare=False, repr=False)

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return with_column_enums(snapshot, self.table.columns).with_table(self.table)

    def execute(self, ctx: ExecutionContext) -> None:
        create_column_enums(ctx, self.table.columns)
        sa_table = self.source if self.source is not None else self.table.to_sqlalchemy()
        ctx.emit(sa.schema.CreateTable(sa_table))
        separate_comments(ctx, sa_table)
        for index in sa_table.indexes:
            ctx.emit(sa.schema.CreateIndex(index))

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        dropped = DropTable(self.table.name, self.table.schema)
        return [dropped, *drop_column_enums(before, self.table.columns)]

    def describe(self) -> str:
        return f"create table {quoted(self.table.schema, self.table.name)}"

    def render_python(self, py: RenderContext) -> list[str]:
        table = self.table
        items = [py.column(c, table) for c in table.columns]
        pk = table.primary_key
        if pk is not None and (pk_name(pk) or pk.options):
            items.append(
                constraint_call("sa.PrimaryKeyConstraint", pk.columns, pk.name, pk.options)
            )
        # in create_all's order: MariaDB names unnamed keys after it (`user_id_2`)
        items += [
            constraint_call("sa.UniqueConstraint", item.columns, item.name, item.options)
            if isinstance(item, Unique)
            else py.foreign_key_item(item)
            for item in in_create_order(table.foreign_keys, table.uniques)
        ]
        items += [
            f"sa.CheckConstraint({py_sql(c.sqltext)}"
            + (f", name={py_str(c.name)}" if c.name else "")
            + ")"
            for c in table.checks
        ]
        # options are keywords; MySQL's spelled with a space (`mysql_default charset`) not
        spaced = {key: value for key, value in table.options if not key.isidentifier()}
        lines = py.call(
            "create_table",
            py_str(table.name),
            *items,
            *([f"**{spaced!r}"] if spaced else []),
            schema=py_opt(table.schema),
            comment=py_opt(table.comment),
            **{key: repr(value) for key, value in table.options if key.isidentifier()},
        )
        for index in table.indexes:
            lines += CreateIndex(table.name, index, table.schema).render_python(py)
        return lines

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        t = self.table
        pk = set(t.primary_key.columns) if t.primary_key else set()
        return [
            Fact(
                "create_table",
                t.name,
                t.schema,
                columns=tuple(column_from_snapshot(c, c.name in pk) for c in t.columns),
                references=tuple(reference_from_snapshot(fk) for fk in t.foreign_keys),
            )
        ]


@dataclasses.dataclass(frozen=True)
class DropTable(Operation):
    name: str
    schema: str | None = None
    loses_data = True

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.without_table(self.name, self.schema)

    def execute(self, ctx: ExecutionContext) -> None:
        ctx.emit(f"DROP TABLE {qualified(ctx.dialect, self.name, self.schema)}")

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = before.table(self.name, self.schema)
        if table is None:
            raise irreversible(
                f"drop table {quoted(self.schema, self.name)}: its definition is unknown "
                "(created by raw SQL?)"
            )
        return [CreateTable(table)]

    def describe(self) -> str:
        return f"drop table {quoted(self.schema, self.name)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call("drop_table", py_str(self.name), schema=py_opt(self.schema))

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("drop_table", self.name, self.schema)]


@dataclasses.dataclass(frozen=True)
class RenameTable(Operation):
    """Rename a table; foreign keys pointing at it follow (the database does the same)."""

    old: str
    new: str
    schema: str | None = None

    static_sql = True

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
                if fk.ref_table == self.old and (fk.ref_schema or other.schema) == self.schema
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
        return f"rename table {quoted(self.schema, self.old)} to {quoted(self.new)}"

    def render_python(self, py: RenderContext) -> list[str]:
        return py.call(
            "rename_table", py_str(self.old), py_str(self.new), schema=py_opt(self.schema)
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("rename_table", self.old, self.schema, new_name=self.new)]


@dataclasses.dataclass(frozen=True)
class SetTableComment(Operation):
    """Set (or, with `comment=None`, drop) a table's comment. SQLite keeps no comments:
    there it changes the snapshot only."""

    table: str
    comment: str | None
    schema: str | None = None
    #: the comment before, as the migration states it (Alembic's `existing_comment`);
    #: used to reverse when the table's definition is unknown
    existing: str | None = None

    static_sql = True

    def apply(self, snapshot: Snapshot) -> Snapshot:
        return snapshot.update_table(
            self.table, self.schema, lambda t: t.replace(comment=self.comment)
        )

    def execute(self, ctx: ExecutionContext) -> None:
        dialect_for(ctx.dialect).set_table_comment(ctx, self.table, self.schema, self.comment)

    def reverse(self, before: Snapshot) -> Sequence[Operation]:
        table = before.table(self.table, self.schema)
        previous = table.comment if table is not None else self.existing
        return [SetTableComment(self.table, previous, self.schema, self.comment)]

    def describe(self) -> str:
        verb = "drop" if self.comment is None else "set"
        return f"{verb} comment on table {quoted(self.schema, self.table)}"

    def render_python(self, py: RenderContext) -> list[str]:
        if self.comment is None:
            return py.call(
                "drop_table_comment",
                py_str(self.table),
                existing_comment=py_opt(self.existing),
                schema=py_opt(self.schema),
            )
        return py.call(
            "create_table_comment",
            py_str(self.table),
            py_str(self.comment),
            existing_comment=py_opt(self.existing),
            schema=py_opt(self.schema),
        )

    def lint_facts(self, read_sql: SQLReader) -> list[Fact]:
        return [Fact("other", name=self.describe())]  # no rule is about comments
