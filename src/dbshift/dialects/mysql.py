"""MySQL and MariaDB: DDL commits implicitly, and `MODIFY` restates the whole column."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dbshift.dialects.base import ColumnChange, DialectRules, TableChange, column_spec, qualified
from dbshift.errors import MigrationError
from dbshift.schema.snapshot import Column, Table, table_key

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext


class MySQLRules(DialectRules):
    name = "mysql"
    transactional_ddl = False

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
