"""MySQL and MariaDB: DDL commits implicitly, and `MODIFY` restates the whole column."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from dbshift.dialects.base import (
    ColumnChange,
    Constraint,
    DialectRules,
    TableChange,
    column_spec,
    is_drop,
    qualified,
    quote,
    sa_constraint,
)
from dbshift.errors import MigrationError
from dbshift.schema.snapshot import Column, ForeignKey, Table, table_key

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext


#: table exists, duplicate column, duplicate key name, duplicate foreign key name
_EXISTS = frozenset({1050, 1060, 1061, 1826})
#: unknown table, can't DROP (column or key gone)
_GONE = frozenset({1051, 1091})


class MySQLRules(DialectRules):
    name = "mysql"
    transactional_ddl = False

    def already_applied(self, sql: str, error: BaseException) -> bool:
        args = getattr(error, "args", ())
        code = args[0] if args and isinstance(args[0], int) else None
        return code in _EXISTS or (code in _GONE and is_drop(sql))

    def alter_column(
        self,
        ctx: ExecutionContext,
        table: str,
        schema: str | None,
        column: str,
        wanted: ColumnChange,
        existing: Column | None,
        change: TableChange,
    ) -> None:
        """`MODIFY COLUMN` with the full new definition: the live one (or the
        migration's `existing_*` arguments) with the requested changes."""
        current = ctx.table(table, schema)
        if current is not None and current.column(column) is not None:
            new_table = change(current)
        elif existing is not None:
            new_table = Table(table, (wanted.applied(existing),), schema=schema)
        else:
            raise MigrationError(
                f"alter_column on {table_key(table, schema)}.{column} needs the column's "
                "current definition on MySQL/MariaDB",
                hint="pass existing_type=, existing_nullable= and existing_server_default=",
            )
        spec = column_spec(ctx.dialect, new_table, column)
        ctx.emit(f"ALTER TABLE {qualified(ctx.dialect, table, schema)} MODIFY COLUMN {spec}")

    def drop_column(
        self,
        ctx: ExecutionContext,
        table: str,
        schema: str | None,
        column: str,
        change: TableChange,
    ) -> None:
        """MySQL shrinks a multi-column index when one of its columns is dropped, and
        refuses to drop a column a CHECK uses; PostgreSQL drops both. Drop them first
        so every backend ends the same."""
        current = ctx.table(table, schema)
        d = ctx.dialect
        for index in current.indexes if current is not None else ():
            if column in index.columns and len(index.columns) > 1:
                ctx.emit(
                    f"ALTER TABLE {qualified(d, table, schema)} DROP INDEX {quote(d, index.name)}"
                )
        for check in current.checks if current is not None else ():
            if check.name and check.uses(column):
                ctx.emit(sa.schema.DropConstraint(sa_constraint(table, schema, check)))
        super().drop_column(ctx, table, schema, column, change)

    def drop_constraint(
        self,
        ctx: ExecutionContext,
        table: str,
        schema: str | None,
        constraint: Constraint,
        change: TableChange,
    ) -> None:
        """Dropping a foreign key also drops the index InnoDB created for it, so that
        adding then dropping a foreign key leaves the table as it was."""
        implicit = None
        conn = ctx.connection
        if conn is not None and isinstance(constraint, ForeignKey) and constraint.name:
            implicit = conn.execute(
                sa.text(
                    "SELECT index_name FROM information_schema.statistics WHERE "
                    "table_schema = COALESCE(:schema, DATABASE()) AND table_name = :table "
                    "AND index_name = :name"
                ),
                {"schema": schema, "table": table, "name": constraint.name},
            ).scalar()
        super().drop_constraint(ctx, table, schema, constraint, change)
        if implicit is not None:
            d = ctx.dialect
            ctx.emit(f"ALTER TABLE {qualified(d, table, schema)} DROP INDEX {quote(d, implicit)}")
