"""SQLite: the ALTERs it cannot do go through its documented table-rebuild procedure.

SQLite alters little in place (add, rename and drop of an unindexed column). Anything
else rebuilds the table (https://www.sqlite.org/lang_altertable.html#otheralter): create
the new definition under a temporary name, copy the rows, drop the old table, rename,
then recreate its indexes and triggers and check foreign keys. It runs inside the
migration's transaction: `defer_foreign_keys` replaces `foreign_keys=OFF` (which cannot
change inside a transaction), and `legacy_alter_table` keeps the rename from rewriting
references in other tables, views and triggers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dbshift.dialects.base import (
    ColumnChange,
    Constraint,
    DialectRules,
    TableChange,
    qualified,
    quote,
)
from dbshift.errors import MigrationError
from dbshift.schema.snapshot import Column, index_to_sqlalchemy

if TYPE_CHECKING:
    from dbshift.ops.base import ExecutionContext

_CONSTANT_DEFAULT = re.compile(
    r"^\s*(?:'(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?|NULL|TRUE|FALSE)\s*$", re.I
)


class SQLiteRules(DialectRules):
    name = "sqlite"

    def add_column(
        self,
        ctx: ExecutionContext,
        table: str,
        schema: str | None,
        column: Column,
        change: TableChange,
    ) -> None:
        default = column.server_default
        if column.computed is None and (default is None or _CONSTANT_DEFAULT.match(default)):
            super().add_column(ctx, table, schema, column, change)
        else:  # SQLite's ADD COLUMN takes constant defaults only
            self.rebuild(ctx, table, schema, change)

    def drop_column(
        self,
        ctx: ExecutionContext,
        table: str,
        schema: str | None,
        column: str,
        change: TableChange,
    ) -> None:
        current = self.current_table(ctx, table, schema)
        used = [i.columns for i in current.indexes] + [u.columns for u in current.uniques]
        used += [f.columns for f in current.foreign_keys]
        in_pk = current.primary_key is not None and column in current.primary_key.columns
        if in_pk or any(column in columns for columns in used) or current.checks:
            self.rebuild(ctx, table, schema, change)
        else:
            super().drop_column(ctx, table, schema, column, change)

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
        self.rebuild(ctx, table, schema, change)

    def add_constraint(
        self,
        ctx: ExecutionContext,
        table: str,
        schema: str | None,
        constraint: Constraint,
        change: TableChange,
    ) -> None:
        """SQLite has no ALTER for constraints: adding or dropping one rebuilds."""
        self.rebuild(ctx, table, schema, change)

    drop_constraint = add_constraint

    def rebuild(
        self, ctx: ExecutionContext, table: str, schema: str | None, change: TableChange
    ) -> None:
        old = self.current_table(ctx, table, schema)
        new = change(old)
        d = ctx.dialect
        saved = _saved_sql(ctx, table)
        temporary = f"_dbshift_rebuild_{table}"
        copied = [
            c.name
            for c in new.columns
            if c.computed is None and (o := old.column(c.name)) and not o.computed
        ]
        names = ", ".join(quote(d, c) for c in copied)
        ctx.emit("PRAGMA defer_foreign_keys = ON")
        ctx.emit(sa.schema.CreateTable(new.replace(name=temporary, indexes=()).to_sqlalchemy()))
        ctx.emit(
            f"INSERT INTO {qualified(d, temporary, schema)} ({names}) "
            f"SELECT {names} FROM {qualified(d, table, schema)}"
        )
        ctx.emit(f"DROP TABLE {qualified(d, table, schema)}")
        ctx.emit("PRAGMA legacy_alter_table = ON")
        ctx.emit(f"ALTER TABLE {qualified(d, temporary, schema)} RENAME TO {quote(d, table)}")
        ctx.emit("PRAGMA legacy_alter_table = OFF")
        sa_table = new.to_sqlalchemy()
        old_indexes = {i.name: i for i in old.indexes}
        for index in new.indexes:
            kept = old_indexes.get(index.name) == index and ("index", index.name) in saved
            ctx.emit(
                saved[("index", index.name)]
                if kept
                else sa.schema.CreateIndex(index_to_sqlalchemy(index, sa_table))
            )
        known = {i.name for i in old.indexes}
        for (kind, name), sql in saved.items():
            if kind == "trigger" or (kind == "index" and name not in known):
                ctx.emit(sql)  # triggers, and indexes reflection cannot describe
        self._check_foreign_keys(ctx, table)

    def _check_foreign_keys(self, ctx: ExecutionContext, table: str) -> None:
        conn = ctx.connection
        if conn is None:
            return
        broken = conn.exec_driver_sql(
            f"PRAGMA foreign_key_check({quote(ctx.dialect, table)})"
        ).fetchall()
        if broken:
            raise MigrationError(
                f"rebuilding table {table} leaves {len(broken)} row(s) violating foreign keys "
                f"(first: table {broken[0][0]}, rowid {broken[0][1]})",
                hint="fix the data before this migration, or in an op.run() step before it",
            )


def _saved_sql(ctx: ExecutionContext, table: str) -> dict[tuple[str, str], str]:
    """The SQL of the table's own indexes and triggers, to restore them verbatim."""
    conn = ctx.connection
    if conn is None:
        return {}
    rows = conn.execute(
        sa.text(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE tbl_name = :table AND type IN ('index', 'trigger') AND sql IS NOT NULL"
        ),
        {"table": table},
    )
    return {(kind, name): sql for kind, name, sql in rows}
