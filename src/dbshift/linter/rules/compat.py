"""Changes that break the release still running while the migration is applied."""

from __future__ import annotations

from dbshift.linter.facts import Fact
from dbshift.linter.model import ALL, Context, Example
from dbshift.linter.rules import rule
from dbshift.ops.base import quoted

_NEW_TABLE = 'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("x", sa.Integer))\n'
_NEW_TABLE_SQL = "CREATE TABLE tmp (id BIGINT PRIMARY KEY, x INTEGER);\n"


@rule(
    "DS201",
    "rename-table",
    "error",
    "backward-incompatible",
    ALL,
    summary="a table in use is renamed",
    why="The release that is running while the migration applies (and every instance not "
    "yet redeployed) still queries the old name and fails until it is replaced.",
    instead="Create the new table (or a view under the new name), write to both, switch "
    "readers, then drop the old one in a later release.",
    fires=(Example('op.rename_table("users", "people")', "ALTER TABLE users RENAME TO people;"),),
    passes=(
        Example(
            _NEW_TABLE + 'op.rename_table("tmp", "tmp2")',
            _NEW_TABLE_SQL + "ALTER TABLE tmp RENAME TO tmp2;",
        ),
    ),
)
def rename_table(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "rename_table" and ctx.existing(fact):
        old = quoted(fact.schema, fact.table)
        return f"rename table {old} to {quoted(fact.new_name)}: running code still uses {old}"
    return None


@rule(
    "DS202",
    "rename-column",
    "error",
    "backward-incompatible",
    ALL,
    summary="a column in use is renamed",
    why="Running code selects and inserts the old column name and fails as soon as the "
    "rename commits.",
    instead="Add the new column, write to both, backfill, switch readers, and drop the old "
    "column in a later release.",
    fires=(
        Example(
            'op.alter_column("users", "name", new_column_name="full_name")',
            "ALTER TABLE users RENAME COLUMN name TO full_name;",
        ),
    ),
    passes=(
        Example(
            _NEW_TABLE + 'op.alter_column("tmp", "x", new_column_name="y")',
            _NEW_TABLE_SQL + "ALTER TABLE tmp RENAME COLUMN x TO y;",
        ),
    ),
)
def rename_column(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "rename_column" and ctx.existing(fact):
        old = quoted(fact.schema, fact.table, fact.column)
        return f"rename column {old} to {quoted(fact.new_name)}: running code still uses it"
    return None


@rule(
    "DS203",
    "not-null-without-default",
    "error",
    "backward-incompatible",
    ALL,
    summary="a NOT NULL column is added without a default",
    why="Existing rows have no value for it: PostgreSQL and SQLite refuse the change on a "
    "non-empty table, MySQL fills an implicit zero or empty string. Inserts from the "
    "running release, which does not know the column, fail.",
    instead="Add the column nullable (or with a server default), backfill it, then make "
    "it NOT NULL in a later migration.",
    fires=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer, nullable=False))',
            "ALTER TABLE users ADD COLUMN age INTEGER NOT NULL;",
        ),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer, nullable=False, '
            'server_default="0"))',
            "ALTER TABLE users ADD COLUMN age INTEGER NOT NULL DEFAULT 0;",
        ),
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer))',
            "ALTER TABLE users ADD COLUMN age INTEGER;",
        ),
        Example(
            'op.add_column("users", sa.Column("score2", sa.Numeric, '
            'sa.Computed("score * 2", persisted=True), nullable=False))',
            "ALTER TABLE users ADD COLUMN score2 NUMERIC "
            "GENERATED ALWAYS AS (score * 2) STORED NOT NULL;",
            mysql_sql="ALTER TABLE users ADD COLUMN score2 DECIMAL(12, 2) "
            "GENERATED ALWAYS AS (score * 2) STORED NOT NULL;",
        ),
    ),
)
def not_null_without_default(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "add_column" or not fact.columns or not ctx.existing(fact):
        return None
    column = fact.columns[0]
    if column.generated or column.computed is not None:
        return None  # identity, serial and generated columns fill every row themselves
    if not column.nullable and column.default is None:
        where = quoted(fact.schema, fact.table, column.name)
        return f"{where} is added NOT NULL without a default"
    return None


@rule(
    "DS204",
    "set-not-null",
    "warning",
    "backward-incompatible",
    ALL,
    summary="an existing column becomes NOT NULL",
    why="The running release may still write NULL into the column (it was allowed until "
    "now): those inserts and updates fail once the constraint is in place, and the change "
    "itself fails if a NULL is left in the table.",
    instead="Deploy code that always writes a value, backfill the NULLs, then add the "
    "constraint (on PostgreSQL through a validated check, see DS306).",
    fires=(
        Example(
            'op.alter_column("users", "name", nullable=False)',
            "ALTER TABLE users ALTER COLUMN name SET NOT NULL;",
            mysql_sql="ALTER TABLE users MODIFY name VARCHAR(100) NOT NULL;",
        ),
    ),
    passes=(
        Example(
            'op.alter_column("users", "name", nullable=True)',
            "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;",
            mysql_sql="ALTER TABLE users MODIFY name VARCHAR(100) NULL;",
        ),
    ),
)
def set_not_null(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "set_not_null" or not ctx.existing(fact):
        return None
    column = ctx.state.column(fact)
    if column is not None and not column.nullable:
        return None  # MySQL's MODIFY restates NOT NULL on a column that had it
    return f"{quoted(fact.schema, fact.table, fact.column)} becomes NOT NULL"


@rule(
    "DS205",
    "drop-not-null",
    "warning",
    "backward-incompatible",
    ALL,
    summary="an existing column's NOT NULL is dropped",
    why="Code of the running release, reports and other readers of the table count on the "
    "column always holding a value; once a NULL is written they break on it. And the "
    "downgrade (SET NOT NULL) fails as soon as one NULL is stored.",
    instead="Make every reader handle NULL first, in a release of its own; then drop the "
    "constraint and suppress this finding (`# dbshift: ignore[DS205]`).",
    fires=(
        Example(
            'op.alter_column("users", "email", nullable=True)',
            "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
            mysql_sql="ALTER TABLE users MODIFY email VARCHAR(200) NULL;",
        ),
    ),
    passes=(
        Example(
            'op.alter_column("users", "name", nullable=True)',
            "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;",
            mysql_sql="ALTER TABLE users MODIFY name VARCHAR(100) NULL;",
        ),
        Example(_NEW_TABLE + 'op.alter_column("tmp", "id", nullable=True)'),
    ),
)
def drop_not_null(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "drop_not_null" or not ctx.existing(fact):
        return None
    column = ctx.state.column(fact)
    if column is not None and column.nullable:
        return None  # already nullable (MySQL's MODIFY restates NULL)
    return f"{quoted(fact.schema, fact.table, fact.column)} may now hold NULL"
