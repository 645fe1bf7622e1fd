"""What a rule needs to know about one change, whether it was written as an `op` call or
as raw SQL: the same change gives the same `Fact` either way.

Facts are plain data. `facts_from_operation` reads them off operation objects; raw SQL
is parsed into them by `dbshift.linter.sqlfacts`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeEngine

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
    DropTable,
    ExecuteSQL,
    Operation,
    RenameColumn,
    RenameTable,
    RunPython,
    SetEnumValues,
    ValidateConstraint,
)
from dbshift.schema.snapshot import Column

#: kinds of change that alter the schema (as opposed to data or session settings)
SCHEMA_KINDS = frozenset(
    {
        "create_table",
        "drop_table",
        "rename_table",
        "add_column",
        "drop_column",
        "rename_column",
        "alter_type",
        "set_not_null",
        "drop_not_null",
        "set_default",
        "create_index",
        "drop_index",
        "add_foreign_key",
        "add_check",
        "add_unique",
        "add_primary_key",
        "drop_primary_key",
        "drop_constraint",
        "create_enum",
        "add_enum_value",
        "set_enum_values",
        "drop_enum",
        "drop_schema",
        "drop_database",
        "detach_partition",
        "add_domain_constraint",
        "other_ddl",
    }
)
#: kinds of change that read or write rows
DATA_KINDS = frozenset({"insert", "update", "delete", "truncate", "run_python"})


@dataclasses.dataclass(frozen=True)
class TypeInfo:
    """A column type reduced to what rules compare: a canonical name and its size."""

    #: integer, smallint, bigint, varchar, char, text, numeric, float, timestamp,
    #: timestamptz, date, time, boolean, enum, json, jsonb, uuid, binary, or `other:...`
    name: str
    #: varchar/char length, numeric precision
    length: int | None = None
    scale: int | None = None
    values: tuple[str, ...] = ()
    #: array dimensions: `timestamp[]` is the timestamp type with `array=1`, so that a
    #: rule about the element type sees it
    array: int = 0

    def __str__(self) -> str:
        return self._element() + "[]" * self.array

    def _element(self) -> str:
        if self.values:
            return f"{self.name}({', '.join(self.values)})"
        if self.length is not None and self.scale is not None:
            return f"{self.name}({self.length},{self.scale})"
        if self.length is not None:
            return f"{self.name}({self.length})"
        return self.name


INTEGER_RANK = {"smallint": 1, "integer": 2, "bigint": 3}


@dataclasses.dataclass(frozen=True)
class ColumnFact:
    name: str
    type: TypeInfo
    nullable: bool = True
    default: str | None = None
    primary_key: bool = False
    #: a column-level `REFERENCES` clause (raw SQL only)
    inline_reference: bool = False
    #: an identity / serial / auto-increment column
    generated: bool = False
    #: a generated column (`GENERATED ALWAYS AS (expr)`, `sa.Computed`): its expression
    computed: str | None = None
    #: whether a generated column is stored: True for STORED, False for VIRTUAL, None
    #: when the statement does not say (the server's default: stored before PostgreSQL 18)
    stored: bool | None = None
    #: a column-level UNIQUE (raw SQL; `op.add_column` records a separate constraint)
    unique: bool = False


@dataclasses.dataclass(frozen=True)
class Fact:
    """One change. `kind` says what it is; the other fields are filled where they apply."""

    kind: str
    table: str | None = None
    schema: str | None = None
    column: str | None = None
    #: the index, constraint, enum type or schema name; the new name of a rename
    name: str | None = None
    new_name: str | None = None
    #: create_table: its columns; add_column: the one column
    columns: tuple[ColumnFact, ...] = ()
    #: alter_type: the new type; add_enum_value: None
    new_type: TypeInfo | None = None
    #: alter_type: the type before, when the migration states it (`existing_type=`)
    old_type: TypeInfo | None = None
    #: set_default: the default expression
    default: str | None = None
    concurrently: bool = False
    not_valid: bool = False
    using_index: bool = False
    #: truncate / drop: CASCADE (other tables are emptied or dropped with it)
    cascade: bool = False
    #: create_function: IMMUTABLE, STABLE or VOLATILE (the default), lower case
    volatility: str | None = None
    #: reindex: what it rebuilds (INDEX, TABLE, SCHEMA, DATABASE or SYSTEM)
    scope: str | None = None
    #: update / delete: whether the statement has a WHERE clause
    has_where: bool = True
    unique: bool = False
    #: add_enum_value: the neighbour value (BEFORE/AFTER), None to append
    position: str | None = None
    #: set_enum_values: the values wanted
    values: tuple[str, ...] = ()
    #: index / constraint columns
    on_columns: tuple[str, ...] = ()
    #: check constraints: the condition
    condition: str | None = None
    #: MySQL's ALGORITHM= clause, upper case
    algorithm: str | None = None
    #: set_lock_timeout: the setting's name
    setting: str | None = None
    #: raw SQL this fact came from (for messages), or None for `op` calls
    sql: str | None = None
    #: unparsable / unknown_sql: why
    problem: str | None = None

    @property
    def key(self) -> str | None:
        """The table's key as the schema state files it (`schema.table` or `table`)."""
        if self.table is None:
            return None
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def changes_schema(self) -> bool:
        return self.kind in SCHEMA_KINDS

    @property
    def changes_data(self) -> bool:
        return self.kind in DATA_KINDS


# -- types --------------------------------------------------------------------------------


def type_from_sqlalchemy(type_: TypeEngine[Any]) -> TypeInfo:
    """The canonical form of a SQLAlchemy type."""
    visit = type(type_).__name__.lower()
    if isinstance(type_, sa.ARRAY):
        element = type_from_sqlalchemy(type_.item_type)
        return dataclasses.replace(element, array=element.array + (type_.dimensions or 1))
    if isinstance(type_, sa.Enum):
        return TypeInfo("enum", values=tuple(type_.enums))
    if isinstance(type_, sa.BigInteger):
        return TypeInfo("bigint")
    if isinstance(type_, sa.SmallInteger):
        return TypeInfo("smallint")
    if isinstance(type_, sa.Integer):
        return TypeInfo("integer")
    if isinstance(type_, sa.Text) or visit in ("text", "mediumtext", "longtext"):
        return TypeInfo("text")
    if isinstance(type_, (sa.CHAR, sa.NCHAR)):
        return TypeInfo("char", type_.length)
    if isinstance(type_, sa.String):
        return TypeInfo("varchar", type_.length) if type_.length else TypeInfo("text")
    if isinstance(type_, sa.Float):
        return TypeInfo("float")
    if isinstance(type_, sa.Numeric):
        return TypeInfo("numeric", type_.precision, type_.scale)
    if isinstance(type_, sa.DateTime):
        return TypeInfo("timestamptz" if type_.timezone else "timestamp")
    if isinstance(type_, sa.Date):
        return TypeInfo("date")
    if isinstance(type_, sa.Time):
        return TypeInfo("time")
    if isinstance(type_, sa.Boolean):
        return TypeInfo("boolean")
    if visit == "jsonb":
        return TypeInfo("jsonb")
    if isinstance(type_, sa.JSON):
        return TypeInfo("json")
    if isinstance(type_, sa.Uuid):
        return TypeInfo("uuid")
    if isinstance(type_, sa.LargeBinary):
        return TypeInfo("binary")
    return TypeInfo(f"other:{visit}")


def column_from_snapshot(column: Column, primary_key: bool = False) -> ColumnFact:
    return ColumnFact(
        column.name,
        type_from_sqlalchemy(column.type),
        nullable=column.nullable,
        default=column.server_default,
        primary_key=primary_key,
        generated=column.identity is not None
        or (primary_key and column.autoincrement in (True, "auto")),
        computed=column.computed,
    )


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


def transaction_effect(fact: Fact) -> str | None:
    """What a `transaction_control` fact does: "begin" (BEGIN, START TRANSACTION),
    "rollback" (ROLLBACK, ABORT), "commit" (COMMIT, END, PREPARE TRANSACTION ...), else
    None."""
    if fact.kind != "transaction_control" or not fact.sql:
        return None
    first = fact.sql.split()[0].upper().rstrip(";")
    if first in ("BEGIN", "START"):
        return "begin"
    return "rollback" if first in ("ROLLBACK", "ABORT") else "commit"


def added_column(fact: Fact) -> ColumnFact | None:
    """The column an `add_column` fact adds, else None."""
    return fact.columns[0] if fact.kind == "add_column" and fact.columns else None
