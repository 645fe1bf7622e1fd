"""SQLite: ALTERs it cannot do in place, which dbshift performs by rebuilding the table."""

from __future__ import annotations

from dbshift.facts import Fact
from dbshift.linter.model import Context, Example
from dbshift.linter.rules.registry import rule
from dbshift.ops.base import quoted

_REBUILDS = {
    "alter_type": "a type change",
    "set_not_null": "SET NOT NULL",
    "drop_not_null": "DROP NOT NULL",
    "set_default": "a default change",
    "drop_default": "a default change",
    "add_foreign_key": "adding a foreign key",
    "add_check": "adding a check constraint",
    "add_unique": "adding a unique constraint",
    "add_primary_key": "adding a primary key",
    "drop_primary_key": "dropping the primary key",
    "drop_constraint": "dropping a constraint",
}


@rule(
    "DS501",
    "sqlite-rebuild",
    "warning",
    "locking",
    frozenset({"sqlite"}),
    summary="a change SQLite can only make by rebuilding the table",
    why="SQLite's ALTER TABLE cannot change a column or a constraint: dbshift copies the "
    "table into a new one and swaps them, which takes as long as the table is big and "
    "holds the database's write lock meanwhile. DROP COLUMN is native from 3.35.",
    instead="Fine on small tables. On a large one, batch the changes to one table into one "
    "migration (one rebuild), or run it when nothing writes.",
    versions="all; DROP COLUMN before 3.35",
    fires=(
        Example(
            'op.alter_column("users", "name", nullable=False)',
        ),
        Example('op.create_check_constraint("ck_score", "users", "score >= 0")'),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer))',
            "ALTER TABLE users ADD COLUMN age INTEGER;",
        ),
    ),
)
def sqlite_rebuild(fact: Fact, ctx: Context) -> str | None:
    if not ctx.existing(fact):
        return None
    what = _REBUILDS.get(fact.kind)
    if fact.kind == "drop_column" and not ctx.target.at_least(3, 35):
        what = "DROP COLUMN before SQLite 3.35"
    if what is None:
        return None
    return f"{what} on {quoted(fact.schema, fact.table)} rebuilds the table"
