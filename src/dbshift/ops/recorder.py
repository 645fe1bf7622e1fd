"""`op`: what a migration's `upgrade(op)` / `downgrade(op)` receives.

Each call records an operation; nothing touches the database while the migration
function runs. Names and signatures follow Alembic's, so Alembic migrations convert
mechanically (`batch_alter_table` included; dbshift needs no batch mode on SQLite).
A keyword argument a method does not know is an error, not ignored (`ops/arguments.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

import sqlalchemy as sa

from dbshift.dialects.base import UNCHANGED, Unchanged
from dbshift.errors import MigrationError
from dbshift.ops.arguments import checked, dialect_keywords
from dbshift.ops.base import Operation
from dbshift.ops.columns import AddColumn, AlterColumn, DropColumn, RenameColumn
from dbshift.ops.constraints import (
    AddCheckConstraint,
    AddForeignKey,
    AddPrimaryKey,
    AddUniqueConstraint,
    CreateIndex,
    DropConstraint,
    DropIndex,
    DropInvalidIndex,
    ValidateConstraint,
)
from dbshift.ops.raw import BulkInsert, ExecuteSQL, RunPython
from dbshift.ops.tables import CreateTable, DropTable, RenameTable, SetTableComment
from dbshift.ops.types import (
    AddEnumValue,
    CreateEnum,
    CreateSequence,
    DropEnum,
    DropSequence,
    SetEnumValues,
)
from dbshift.schema import snapshot
from dbshift.schema.models import (
    add_referenced_stubs,
    clause_sql,
    column_from_sqlalchemy,
    foreign_key_from_sqlalchemy,
    option_value,
    server_default_sql,
    table_from_sqlalchemy,
)
from dbshift.schema.snapshot import Check, Column, ForeignKey, Index, PrimaryKey, Unique


@checked("op")
class Op:
    """Records operations: `op.add_column(...)` appends an `AddColumn` to `op.operations`."""

    def __init__(self, dialect: str = "default", source: str | None = None) -> None:
        self.operations: list[Operation] = []
        #: the dialect SQL expressions are written for (quoting differs per backend)
        self.dialect = dialect
        #: the migration file: when given, `lines` records where each operation was called
        self.source = source
        self.lines: list[int] = []

    def sql(
        self,
        default: str,
        *,
        sqlite: str | None = None,
        postgresql: str | None = None,
        mysql: str | None = None,
        mariadb: str | None = None,
    ) -> str:
        """SQL text for the backend the migration runs on (`op.dialect`): the one given
        for it, else `default`. `make` writes it for a history of several backends where
        an expression quotes a name differently on each. The backends are named
        parameters, so a misspelt one is an error like any unknown argument."""
        given = {"sqlite": sqlite, "postgresql": postgresql, "mysql": mysql, "mariadb": mariadb}
        text = given.get(self.dialect)
        return default if text is None else text

    def _add(self, operation: Operation) -> None:
        self.operations.append(operation)
        if self.source is not None:
            self.lines.append(self._caller_line())

    def _caller_line(self) -> int:
        """The line of `source` that made the current call (0 when it is not on the
        stack): the linter points its findings there. A few frames, so cheap."""
        frame: FrameType | None = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename != self.source:
            frame = frame.f_back
        return frame.f_lineno if frame is not None else 0

    # -- tables ----------------------------------------------------------------------

    @dialect_keywords(sa.Table)
    def create_table(
        self,
        table_name: str,
        *columns: Any,
        schema: str | None = None,
        comment: str | None = None,
        **kw: Any,
    ) -> sa.Table:
        """Create a table; returns it as a SQLAlchemy `Table` (handy for bulk_insert)."""
        table = sa.Table(table_name, sa.MetaData(), *columns, schema=schema, comment=comment, **kw)
        add_referenced_stubs(table)
        self._add(CreateTable(table_from_sqlalchemy(table, dialect=self.dialect), source=table))
        return table

    @dialect_keywords(sa.Table)
    def drop_table(self, table_name: str, schema: str | None = None, **kw: Any) -> None:
        self._add(DropTable(table_name, schema))

    def rename_table(
        self, old_table_name: str, new_table_name: str, schema: str | None = None
    ) -> None:
        self._add(RenameTable(old_table_name, new_table_name, schema))

    # -- columns ---------------------------------------------------------------------

    def add_column(
        self, table_name: str, column: sa.Column[Any], schema: str | None = None
    ) -> None:
        table = sa.Table(table_name, sa.MetaData(), column, schema=schema)
        column_snapshot = column_from_sqlalchemy(column, dialect=self.dialect)
        self._add(AddColumn(table_name, column_snapshot, schema))
        for constraint in table.constraints:
            if isinstance(constraint, sa.ForeignKeyConstraint):
                self._add(
                    AddForeignKey(table_name, foreign_key_from_sqlalchemy(constraint), schema)
                )
            elif isinstance(constraint, sa.UniqueConstraint):
                self._add(
                    AddUniqueConstraint(
                        table_name, Unique(_name(constraint.name), (column.name,)), schema
                    )
                )
        for index in table.indexes:
            self._add(
                CreateIndex(
                    table_name, Index(str(index.name), (column.name,), bool(index.unique)), schema
                )
            )

    def drop_column(
        self, table_name: str, column_name: str, schema: str | None = None, **kw: Any
    ) -> None:
        self._add(DropColumn(table_name, column_name, schema))

    def rename_column(
        self, table_name: str, old_column_name: str, new_column_name: str, schema: str | None = None
    ) -> None:
        self._add(RenameColumn(table_name, old_column_name, new_column_name, schema))

    def alter_column(
        self,
        table_name: str,
        column_name: str,
        nullable: bool | None = None,
        comment: str | bool | None = False,
        server_default: Any = False,
        new_column_name: str | None = None,
        type_: Any = None,
        existing_type: Any = None,
        existing_server_default: Any = False,
        existing_nullable: bool | None = None,
        existing_comment: str | None = None,
        schema: str | None = None,
        postgresql_using: str | None = None,
        existing_autoincrement: bool | None = None,
        **kw: Any,
    ) -> None:
        """`existing_*` describe the column as it is (Alembic's migrations pass them);
        they change nothing, so a call that passes nothing else is an error."""
        default: str | Unchanged | None = (
            UNCHANGED
            if server_default is False
            else server_default_sql(server_default, self.dialect)
        )
        new_comment: str | Unchanged | None
        new_comment = UNCHANGED if comment is False else comment  # type: ignore[assignment]
        existing = None
        if existing_type is not None:
            existing = Column(
                column_name,
                sa.types.to_instance(existing_type),
                nullable=True if existing_nullable is None else existing_nullable,
                server_default=server_default_sql(existing_server_default, self.dialect),
                comment=existing_comment,
            )
        new_type = sa.types.to_instance(type_) if type_ is not None else None
        renamed = new_column_name is not None and new_column_name != column_name
        changes = (
            new_type is not None
            or nullable is not None
            or default is not UNCHANGED
            or new_comment is not UNCHANGED
        )
        if not changes and not renamed:
            # the existing_* arguments only describe the column: nothing would be recorded
            raise MigrationError(
                f"op.alter_column({table_name!r}, {column_name!r}) changes nothing",
                hint="pass what changes: type_=, nullable=, server_default=, comment= "
                "or new_column_name=",
            )
        if changes:
            self._add(
                AlterColumn(
                    table_name,
                    column_name,
                    schema,
                    type=new_type,
                    nullable=nullable,
                    server_default=default,
                    comment=new_comment,
                    existing=existing,
                    postgresql_using=postgresql_using,
                )
            )
        if renamed and new_column_name is not None:
            self._add(RenameColumn(table_name, column_name, new_column_name, schema))

    # -- indexes and constraints -------------------------------------------------------

    @dialect_keywords(sa.Index)
    def create_index(
        self,
        index_name: str,
        table_name: str,
        columns: Sequence[Any],
        schema: str | None = None,
        unique: bool = False,
        if_not_exists: bool | None = None,
        postgresql_concurrently: bool = False,
        **kw: Any,
    ) -> None:
        """`columns`: names, or SQL expressions (`sa.text("lower(name)")`). Dialect keywords
        (`postgresql_where=`, `postgresql_using=`, `mysql_length=`, ...) are kept with the
        index; `postgresql_concurrently=True` makes the migration non-transactional."""
        if isinstance(columns, str):
            columns = [columns]
        entries = tuple(c if isinstance(c, str) else clause_sql(c, self.dialect) for c in columns)
        expressions = tuple(clause_sql(c, self.dialect) for c in columns if not isinstance(c, str))
        concurrently = bool(postgresql_concurrently)
        options = tuple(
            sorted((k, option_value(v, self.dialect, k)) for k, v in kw.items() if v is not None)
        )
        index = Index(index_name, entries, unique, options, expressions)
        self._add(CreateIndex(table_name, index, schema, concurrently, bool(if_not_exists)))

    @dialect_keywords(sa.Index)
    def drop_index(
        self,
        index_name: str,
        table_name: str | None = None,
        schema: str | None = None,
        if_exists: bool | None = None,
        postgresql_concurrently: bool = False,
        **kw: Any,
    ) -> None:
        concurrently = bool(postgresql_concurrently)
        self._add(DropIndex(index_name, table_name, schema, concurrently, bool(if_exists)))

    @dialect_keywords(sa.ForeignKeyConstraint)
    def create_foreign_key(
        self,
        constraint_name: str | None,
        source_table: str,
        referent_table: str,
        local_cols: Sequence[str],
        remote_cols: Sequence[str],
        onupdate: str | None = None,
        ondelete: str | None = None,
        deferrable: bool | None = None,
        initially: str | None = None,
        match: str | None = None,
        source_schema: str | None = None,
        referent_schema: str | None = None,
        postgresql_not_valid: bool = False,
        **dialect_kw: Any,
    ) -> None:
        fk = ForeignKey(
            constraint_name,
            tuple(local_cols),
            referent_table,
            tuple(remote_cols),
            referent_schema,
            ondelete,
            onupdate,
            deferrable,
            initially,
        )
        self._add(AddForeignKey(source_table, fk, source_schema, bool(postgresql_not_valid)))

    @dialect_keywords(sa.UniqueConstraint)
    def create_unique_constraint(
        self,
        constraint_name: str | None,
        table_name: str,
        columns: Sequence[str],
        schema: str | None = None,
        postgresql_using_index: str | None = None,
        **kw: Any,
    ) -> None:
        """`postgresql_using_index="ix"` adopts the unique index `ix` (built beforehand,
        e.g. concurrently) instead of building one under lock."""
        unique = Unique(constraint_name, tuple(columns))
        using = postgresql_using_index
        self._add(AddUniqueConstraint(table_name, unique, schema, using_index=using))

    @dialect_keywords(sa.CheckConstraint)
    def create_check_constraint(
        self,
        constraint_name: str | None,
        table_name: str,
        condition: Any,
        schema: str | None = None,
        postgresql_not_valid: bool = False,
        **kw: Any,
    ) -> None:
        text = condition if isinstance(condition, str) else clause_sql(condition, self.dialect)
        check = Check(constraint_name, text)
        self._add(AddCheckConstraint(table_name, check, schema, bool(postgresql_not_valid)))

    def validate_constraint(
        self, constraint_name: str, table_name: str, schema: str | None = None
    ) -> None:
        """PostgreSQL's `VALIDATE CONSTRAINT` of a constraint added `postgresql_not_valid`."""
        self._add(ValidateConstraint(constraint_name, table_name, schema))

    def drop_invalid_index(self, index_name: str, schema: str | None = None) -> None:
        """Drop `index_name` concurrently if a failed concurrent build left it invalid
        (PostgreSQL); the migration must be `transactional = False`."""
        self._add(DropInvalidIndex(index_name, schema))

    def create_primary_key(
        self,
        constraint_name: str | None,
        table_name: str,
        columns: Sequence[str],
        schema: str | None = None,
    ) -> None:
        self._add(AddPrimaryKey(table_name, PrimaryKey(tuple(columns), constraint_name), schema))

    def drop_constraint(
        self,
        constraint_name: str,
        table_name: str,
        type_: str | None = None,
        schema: str | None = None,
    ) -> None:
        self._add(DropConstraint(constraint_name, table_name, type_, schema))

    # -- enum types and sequences -------------------------------------------------------

    def create_enum(self, name: str, values: Sequence[str], schema: str | None = None) -> None:
        """A PostgreSQL enum type (`CREATE TYPE ... AS ENUM`); a no-op on other backends,
        where enums are part of the column type."""
        self._add(CreateEnum(snapshot.Enum(name, tuple(values), schema)))

    def drop_enum(self, name: str, schema: str | None = None) -> None:
        self._add(DropEnum(name, schema))

    def add_enum_value(
        self, name: str, value: str, schema: str | None = None, before: str | None = None
    ) -> None:
        self._add(AddEnumValue(name, value, schema, before))

    def set_enum_values(self, name: str, values: Sequence[str], schema: str | None = None) -> None:
        """Give an enum type exactly `values` (removing values recreates the type)."""
        self._add(SetEnumValues(name, tuple(values), schema))

    def create_sequence(
        self,
        name: str,
        schema: str | None = None,
        start: int | None = None,
        increment: int | None = None,
        minvalue: int | None = None,
        maxvalue: int | None = None,
        cycle: bool = False,
    ) -> None:
        """An explicit sequence (PostgreSQL, MariaDB); a no-op where there are none."""
        sequence = snapshot.Sequence(name, schema, start, increment, minvalue, maxvalue, cycle)
        self._add(CreateSequence(sequence))

    def drop_sequence(self, name: str, schema: str | None = None) -> None:
        self._add(DropSequence(name, schema))

    # -- data and code -------------------------------------------------------------------

    def create_table_comment(
        self,
        table_name: str,
        comment: str,
        existing_comment: str | None = None,
        schema: str | None = None,
    ) -> None:
        self._add(SetTableComment(table_name, comment, schema, existing_comment))

    def drop_table_comment(
        self, table_name: str, existing_comment: str | None = None, schema: str | None = None
    ) -> None:
        self._add(SetTableComment(table_name, None, schema, existing_comment))

    def execute(
        self,
        sqltext: str | sa.Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        execution_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Raw SQL. A string runs as written (no `:name` parsing) unless `params` are
        given; note that Alembic's second positional argument is `execution_options`."""
        options = tuple(sorted(execution_options.items())) if execution_options else ()
        self._add(ExecuteSQL(sqltext, params, options))

    def bulk_insert(
        self, table: sa.TableClause, rows: Sequence[dict[str, Any]], multiinsert: bool = True
    ) -> None:
        self._add(BulkInsert(table, tuple(dict(r) for r in rows), multiinsert))

    def run(self, fn: Callable[[sa.Connection], Any]) -> None:
        """Call `fn(connection)` at this point of the migration, in its transaction."""
        self._add(RunPython(fn))

    def get_bind(self) -> sa.Connection:
        raise MigrationError(
            "op.get_bind() is not available: operations are recorded before they run",
            hint="put data work in a function and call op.run(fn); it receives the connection",
        )

    @contextmanager
    def batch_alter_table(
        self, table_name: str, schema: str | None = None, recreate: str = "auto"
    ) -> Iterator[_Batch]:
        """Alembic's batch mode, for converted migrations: the same calls on one table.
        `recreate` is accepted and has no effect: dbshift rebuilds a SQLite table when,
        and only when, a change needs it."""
        yield _Batch(self, table_name, schema)


@checked(
    "batch_op",
    forwards=Op,
    filled=("table_name", "source_table", "schema", "source_schema"),
)
class _Batch:
    def __init__(self, op: Op, table: str, schema: str | None) -> None:
        self._op, self._table, self._schema = op, table, schema

    def add_column(self, column: sa.Column[Any], **kw: Any) -> None:
        self._op.add_column(self._table, column, schema=self._schema, **kw)

    def drop_column(self, column_name: str, **kw: Any) -> None:
        self._op.drop_column(self._table, column_name, schema=self._schema, **kw)

    def alter_column(self, column_name: str, **kw: Any) -> None:
        self._op.alter_column(self._table, column_name, schema=self._schema, **kw)

    def create_index(self, index_name: str, columns: Sequence[Any], **kw: Any) -> None:
        self._op.create_index(index_name, self._table, columns, schema=self._schema, **kw)

    def drop_index(self, index_name: str, **kw: Any) -> None:
        self._op.drop_index(index_name, self._table, schema=self._schema, **kw)

    def create_foreign_key(
        self,
        name: str | None,
        referent_table: str,
        local_cols: Sequence[str],
        remote_cols: Sequence[str],
        **kw: Any,
    ) -> None:
        self._op.create_foreign_key(
            name,
            self._table,
            referent_table,
            local_cols,
            remote_cols,
            source_schema=self._schema,
            **kw,
        )

    def create_unique_constraint(self, name: str | None, columns: Sequence[str], **kw: Any) -> None:
        self._op.create_unique_constraint(name, self._table, columns, schema=self._schema, **kw)

    def create_check_constraint(self, name: str | None, condition: Any, **kw: Any) -> None:
        self._op.create_check_constraint(name, self._table, condition, schema=self._schema, **kw)

    def drop_constraint(self, name: str, type_: str | None = None) -> None:
        self._op.drop_constraint(name, self._table, type_, schema=self._schema)


def _name(name: Any) -> str | None:
    return None if name is None or type(name).__name__ == "_NoneName" else str(name)
