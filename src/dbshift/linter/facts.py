"""What a rule needs to know about one change, whether it was written as an `op` call or
as raw SQL: the same change gives the same `Fact` either way.

The fact types live in `dbshift.facts`. `facts_from_operation` reads them off operation
objects; raw SQL is parsed into them by `dbshift.linter.sqlfacts`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dbshift.facts import (
    Fact,
    column_from_snapshot,
    reference_from_snapshot,
    type_from_sqlalchemy,
)
from dbshift.ops import (
    AddCheckConstraint,
    AddColumn,
    AddEnumValue,
    AddForeignKey,
    AddPrimaryKey,
    AddUniqueConstraint,
    AlterColumn,
    BulkInsert,
    CreateEnum,
    CreateIndex,
    CreateTable,
    DropColumn,
    DropConstraint,
    DropEnum,
    DropIndex,
    DropInvalidIndex,
    DropSequence,
    DropTable,
    ExecuteSQL,
    Operation,
    RenameColumn,
    RenameTable,
    RunPython,
    SetEnumValues,
    ValidateConstraint,
)
from dbshift.schema.snapshot import ForeignKey

# -- operations -----------------------------------------------------------------------------


def facts_from_operation(op: Operation, dialect: str = "postgresql") -> list[Fact]:
    """The facts of one operation. Raw SQL (`op.execute("...")`) is parsed for
    `dialect`; Python code (`op.run`) is one opaque fact."""
    if isinstance(op, ExecuteSQL):
        from dbshift.linter.sqlfacts import facts_from_sql

        if isinstance(op.sql, str):
            return facts_from_sql(op.sql, dialect)
        return _facts_from_executable(op.sql, dialect)
    if isinstance(op, RunPython):
        return [Fact("run_python", name=str(getattr(op.fn, "__name__", "function")))]
    if isinstance(op, BulkInsert):
        return [Fact("insert", op.table.name, op.table.schema)]
    if isinstance(op, CreateTable):
        t = op.table
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
    if isinstance(op, DropTable):
        return [Fact("drop_table", op.name, op.schema)]
    if isinstance(op, RenameTable):
        return [Fact("rename_table", op.old, op.schema, new_name=op.new)]
    if isinstance(op, AddColumn):
        return [
            Fact(
                "add_column",
                op.table,
                op.schema,
                op.column.name,
                columns=(column_from_snapshot(op.column),),
            )
        ]
    if isinstance(op, DropColumn):
        return [Fact("drop_column", op.table, op.schema, op.column)]
    if isinstance(op, RenameColumn):
        return [Fact("rename_column", op.table, op.schema, op.old, new_name=op.new)]
    if isinstance(op, AlterColumn):
        return _alter_column(op)
    if isinstance(op, CreateIndex):
        return [
            Fact(
                "create_index",
                op.table,
                op.schema,
                name=op.index.name,
                concurrently=op.concurrently,
                unique=op.index.unique,
                on_columns=op.index.columns,
            )
        ]
    if isinstance(op, DropIndex):
        return [Fact("drop_index", op.table, op.schema, name=op.name, concurrently=op.concurrently)]
    if isinstance(op, AddForeignKey):
        return [
            Fact(
                "add_foreign_key",
                op.table,
                op.schema,
                name=op.constraint.name,
                on_columns=getattr(op.constraint, "columns", ()),
                not_valid=op.not_valid,
                references=(reference_from_snapshot(op.constraint),)
                if isinstance(op.constraint, ForeignKey)
                else (),
            )
        ]
    if isinstance(op, AddCheckConstraint):
        text = getattr(op.constraint, "sqltext", None)
        name = op.constraint.name
        return [
            Fact(
                "add_check", op.table, op.schema, name=name, condition=text, not_valid=op.not_valid
            )
        ]
    if isinstance(op, AddUniqueConstraint):
        cols = getattr(op.constraint, "columns", ())
        using = op.using_index is not None
        return [
            Fact(
                "add_unique",
                op.table,
                op.schema,
                name=op.constraint.name,
                on_columns=cols,
                using_index=using,
            )
        ]
    if isinstance(op, ValidateConstraint):
        return [Fact("validate_constraint", op.table, op.schema, name=op.name)]
    if isinstance(op, DropInvalidIndex):
        return [Fact("drop_index", schema=op.schema, name=op.name, concurrently=True)]
    if isinstance(op, AddPrimaryKey):
        cols = getattr(op.constraint, "columns", ())
        return [
            Fact("add_primary_key", op.table, op.schema, name=op.constraint.name, on_columns=cols)
        ]
    if isinstance(op, DropConstraint):
        return [Fact("drop_constraint", op.table, op.schema, name=op.name)]
    if isinstance(op, CreateEnum):
        return [
            Fact("create_enum", schema=op.enum.schema, name=op.enum.name, values=op.enum.values)
        ]
    if isinstance(op, AddEnumValue):
        return [
            Fact(
                "add_enum_value",
                schema=op.schema,
                name=op.name,
                position=op.before,
                values=(op.value,),
            )
        ]
    if isinstance(op, SetEnumValues):
        return [Fact("set_enum_values", schema=op.schema, name=op.name, values=op.values)]
    if isinstance(op, DropEnum):
        return [Fact("drop_enum", schema=op.schema, name=op.name)]
    if isinstance(op, DropSequence):
        return [Fact("drop_sequence", schema=op.schema, name=op.name)]
    return [Fact("other", name=op.describe())]


def _alter_column(op: AlterColumn) -> list[Fact]:
    facts: list[Fact] = []
    base: dict[str, Any] = {"table": op.table, "schema": op.schema, "column": op.column}
    old = type_from_sqlalchemy(op.existing.type) if op.existing is not None else None
    if op.type is not None:
        facts.append(
            Fact("alter_type", **base, new_type=type_from_sqlalchemy(op.type), old_type=old)
        )
    if op.nullable is False:
        facts.append(Fact("set_not_null", **base))
    elif op.nullable is True:
        facts.append(Fact("drop_not_null", **base))
    if isinstance(op.server_default, str):
        facts.append(Fact("set_default", **base, default=op.server_default))
    elif op.server_default is None:  # server_default=None drops it
        facts.append(Fact("drop_default", **base))
    return facts


def _facts_from_executable(statement: Any, dialect: str) -> list[Fact]:
    """A SQLAlchemy statement given to `op.execute`: DML is read off its class."""
    what = getattr(statement, "is_dml", False)
    table = getattr(getattr(statement, "table", None), "name", None)
    if what and isinstance(statement, sa.Delete | sa.Update):
        kind = "delete" if isinstance(statement, sa.Delete) else "update"
        return [Fact(kind, table, has_where=statement.whereclause is not None)]
    if what:
        return [Fact("insert", table)]
    text = str(statement)
    from dbshift.linter.sqlfacts import facts_from_sql

    return facts_from_sql(text, dialect)
