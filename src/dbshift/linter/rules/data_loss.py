"""Changes that destroy stored data."""

from __future__ import annotations

from dbshift.facts import Fact, TypeInfo
from dbshift.linter.model import ALL, PG, SERVERS, Context, Example
from dbshift.linter.rules.registry import rule
from dbshift.linter.typechange import narrows
from dbshift.ops.base import quoted


def old_type(fact: Fact, ctx: Context) -> TypeInfo | None:
    """The column's type before the change: from the schema, else as the migration says."""
    column = ctx.state.column(fact)
    return column.type if column is not None else fact.old_type


@rule(
    "DS101",
    "drop-table",
    "error",
    "data-loss",
    ALL,
    summary="a table that holds data is dropped",
    why="Every row of the table is gone, and a downgrade re-creates the table empty. Code "
    "of the running release that still reads the table fails at once.",
    instead="Stop using the table in one release, back it up or rename it aside "
    "(`users_deprecated`), and drop it in a later migration; suppress this finding there.",
    fires=(Example('op.drop_table("users")', "DROP TABLE users;"),),
    passes=(
        Example(
            'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True))\n'
            'op.drop_table("tmp")',
            "CREATE TABLE tmp (id BIGINT PRIMARY KEY);\nDROP TABLE tmp;",
        ),
    ),
)
def drop_table(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "drop_table" and ctx.existing(fact):
        return f"drop table {quoted(fact.schema, fact.table)}: its rows are lost"
    return None


@rule(
    "DS102",
    "drop-column",
    "error",
    "data-loss",
    ALL,
    summary="a column that holds data is dropped",
    why="The column's values are gone for good (a downgrade re-adds it empty), and the "
    "running release, which still selects or inserts it, fails until it is replaced.",
    instead="Deploy code that no longer uses the column first, then drop it in a later "
    "migration and suppress this finding there (`# dbshift: ignore[DS102]`).",
    fires=(Example('op.drop_column("users", "name")', "ALTER TABLE users DROP COLUMN name;"),),
    passes=(
        Example(
            'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True), '
            'sa.Column("x", sa.Integer))\nop.drop_column("tmp", "x")',
            "CREATE TABLE tmp (id BIGINT PRIMARY KEY, x INTEGER);\nALTER TABLE tmp DROP COLUMN x;",
        ),
    ),
)
def drop_column(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "drop_column" and ctx.existing(fact):
        return f"drop column {quoted(fact.schema, fact.table, fact.column)}: its values are lost"
    return None


@rule(
    "DS103",
    "drop-schema",
    "error",
    "data-loss",
    SERVERS,
    summary="a schema (database) is dropped with everything in it",
    why="DROP SCHEMA removes every table, view and function it holds (with CASCADE on "
    "PostgreSQL; on MySQL a schema is a database).",
    instead="Drop the objects one by one in reviewed migrations, or drop the schema by hand "
    "after a backup.",
    fires=(Example('op.execute("DROP SCHEMA archive")', "DROP SCHEMA archive;"),),
    passes=(Example('op.execute("CREATE SCHEMA archive")', "CREATE SCHEMA archive;"),),
)
def drop_schema(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "drop_schema":
        return f"drop schema {quoted(fact.name)}: everything in it is lost"
    return None


@rule(
    "DS104",
    "narrowing-type",
    "error",
    "data-loss",
    ALL,
    summary="a column type change narrows the type",
    why="Values that do not fit the new type are cut (MySQL outside strict mode, SQLite's "
    "rebuild copy) or make the migration fail half-way on a large table: a shorter "
    "varchar, a smaller integer, less numeric precision, enum values removed.",
    instead="Check that every value fits first (`SELECT max(length(col))`), clean the data "
    "in a separate migration, or keep the wider type.",
    fires=(
        Example(
            'op.alter_column("users", "name", type_=sa.String(50))',
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(50);",
            mysql_sql="ALTER TABLE users MODIFY name VARCHAR(50);",
        ),
    ),
    passes=(
        Example(
            'op.alter_column("users", "name", type_=sa.String(200))',
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);",
            mysql_sql="ALTER TABLE users MODIFY name VARCHAR(200);",
        ),
    ),
)
def narrowing_type(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "alter_type" or fact.new_type is None:
        return None
    old = old_type(fact, ctx)
    if old and narrows(old, fact.new_type):
        where = quoted(fact.schema, fact.table, fact.column)
        return f"{where} changes from {old} to {fact.new_type}: values that do not fit are lost"
    return None


@rule(
    "DS105",
    "truncate",
    "error",
    "data-loss",
    SERVERS,
    summary="TRUNCATE empties a table",
    why="TRUNCATE removes every row, cannot be undone by a downgrade, and takes an ACCESS "
    "EXCLUSIVE lock (PostgreSQL) or a metadata lock (MySQL) while it runs.",
    instead="Delete the rows you mean to, with a WHERE clause, in a data migration; or "
    "suppress the finding when emptying the table is the point.",
    fires=(Example('op.execute("TRUNCATE users")', "TRUNCATE users;"),),
    passes=(
        Example(
            "op.execute(\"DELETE FROM users WHERE email = 'x'\")",
            "DELETE FROM users WHERE email = 'x';",
        ),
    ),
)
def truncate(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "truncate":
        return f"TRUNCATE {quoted(fact.schema, fact.table)} removes every row"
    return None


@rule(
    "DS106",
    "unbounded-dml",
    "error",
    "data-loss",
    ALL,
    summary="DELETE or UPDATE without WHERE in a schema migration",
    why="Without a WHERE clause the statement touches every row: on a large table it holds "
    "row locks on all of them for the whole migration, and a mistake cannot be undone.",
    instead="Add a WHERE clause (or `WHERE true` when every row is really meant), and run "
    "large backfills in batches outside the schema migration.",
    fires=(
        Example('op.execute("UPDATE users SET score = 0")', "UPDATE users SET score = 0;"),
        Example('op.execute("DELETE FROM users")', "DELETE FROM users;"),
    ),
    passes=(
        Example(
            'op.execute("UPDATE users SET score = 0 WHERE score IS NULL")',
            "UPDATE users SET score = 0 WHERE score IS NULL;",
        ),
    ),
)
def unbounded_dml(fact: Fact, ctx: Context) -> str | None:
    if fact.kind in ("delete", "update") and not fact.has_where and ctx.existing(fact):
        verb = fact.kind.upper()
        return f"{verb} on {quoted(fact.schema, fact.table)} has no WHERE: every row is changed"
    return None


@rule(
    "DS107",
    "enum-values-removed",
    "error",
    "data-loss",
    PG,
    summary="values are removed from an enum type",
    why="Rows holding a removed value make the conversion fail; and the type is rebuilt, so "
    "every column using it is rewritten under an ACCESS EXCLUSIVE lock.",
    instead="Update the rows to another value first, in a separate migration, or keep "
    "the value and stop using it in code.",
    fires=(Example('op.set_enum_values("mood", ["happy"])'),),
    passes=(Example('op.set_enum_values("mood", ["happy", "sad", "meh"])'),),
)
def enum_values_removed(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "set_enum_values" and fact.name in ctx.state.enums:
        gone = [v for v in ctx.state.enums[fact.name] if v not in fact.values]
        if gone:
            return f"enum {quoted(fact.name)} loses value(s) {', '.join(gone)}"
    return None


@rule(
    "DS108",
    "drop-database",
    "error",
    "data-loss",
    SERVERS,
    summary="a database is dropped",
    why="DROP DATABASE removes every schema, table and row in it at once, and no "
    "downgrade brings them back. (On PostgreSQL it cannot run in a transaction block "
    "either, so a transactional migration fails on it.)",
    instead="Drop databases by hand, after a backup, outside the migrations.",
    fires=(Example('op.execute("DROP DATABASE archive")', "DROP DATABASE archive;"),),
    passes=(Example('op.execute("DROP TABLE IF EXISTS tmp")', "DROP TABLE IF EXISTS tmp;"),),
)
def drop_database(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "drop_database":
        return f"drop database {quoted(fact.name)}: everything in it is lost"
    return None


@rule(
    "DS109",
    "truncate-cascade",
    "error",
    "data-loss",
    PG,
    summary="TRUNCATE ... CASCADE empties the tables that reference it too",
    why="CASCADE truncates every table with a foreign key to the named ones, and the "
    "tables referencing those, recursively: tables the migration never names lose "
    "their rows (the server only says so in a NOTICE).",
    instead="Name every table to empty in the TRUNCATE, so that the statement fails "
    "rather than reaching further than meant; suppressing DS105 does not cover this.",
    fires=(Example('op.execute("TRUNCATE users CASCADE")', "TRUNCATE users CASCADE;"),),
    passes=(Example('op.execute("TRUNCATE users, events")', "TRUNCATE users, events;"),),
)
def truncate_cascade(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "truncate" and fact.cascade:
        return f"TRUNCATE {quoted(fact.schema, fact.table)} CASCADE also empties every table referencing it"
    return None


@rule(
    "DS110",
    "drop-sequence",
    "warning",
    "data-loss",
    frozenset({"postgresql", "mariadb"}),
    summary="a sequence is dropped",
    why="A sequence's state is its position: dropped, it is gone, and one created again "
    "under the name starts over and hands out numbers already used. The release still "
    "running fails on every `nextval()` (or insert whose default calls it) until it is "
    "replaced. (A serial or identity column's own sequence goes with its column or "
    "table, and DS101/DS102 report those.)",
    instead="Drop the sequence in a later release, once no code uses it; to renumber, "
    "`ALTER SEQUENCE ... RESTART` says so explicitly.",
    fires=(
        Example('op.drop_sequence("invoice_numbers")', "DROP SEQUENCE invoice_numbers;"),
        Example(sql="DROP SEQUENCE IF EXISTS a, b CASCADE;", only=PG),
    ),
    passes=(
        Example(
            'op.create_sequence("invoice_numbers")',
            "CREATE SEQUENCE invoice_numbers;",
        ),
    ),
)
def drop_sequence(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "drop_sequence":
        return f"drop sequence {quoted(fact.schema, fact.name)}: its position is lost"
    return None


#: what a CASCADE drop of each kind takes with it
_TYPE_OWNERS = {
    "drop_domain": ("domain", "every column of the domain"),
    "drop_extension": ("extension", "every column of a type it defines"),
    "drop_enum": ("type", "every column of the type"),
}


@rule(
    "DS111",
    "drop-type-cascade",
    "error",
    "data-loss",
    PG,
    summary="a domain, type or extension is dropped with CASCADE",
    why="CASCADE drops every column whose type is the domain, the enum or a type the "
    "extension defines (citext, hstore, geometry, ...), values and all, and the indexes, "
    "views and functions that use them: objects the migration never names, listed only "
    "in a NOTICE. Without CASCADE the server refuses while anything uses the type, "
    "which is why a plain DROP DOMAIN is not reported.",
    instead="Drop without CASCADE, so that the statement fails rather than reaching "
    "further than meant; change or drop the columns that use the type first, each in "
    "a reviewed migration.",
    fires=(
        Example(
            'op.execute("DROP DOMAIN positive_int CASCADE")', "DROP DOMAIN positive_int CASCADE;"
        ),
        Example(sql="DROP EXTENSION citext CASCADE;"),
        Example(sql="DROP TYPE user_status CASCADE;"),
    ),
    passes=(
        Example('op.execute("DROP DOMAIN positive_int")', "DROP DOMAIN positive_int;"),
        Example(sql="DROP TYPE IF EXISTS mood RESTRICT;"),
    ),
)
def drop_type_cascade(fact: Fact, ctx: Context) -> str | None:
    if fact.kind not in _TYPE_OWNERS or not fact.cascade:
        return None
    what, columns = _TYPE_OWNERS[fact.kind]
    return f"drop {what} {quoted(fact.schema, fact.name)} CASCADE: {columns} is dropped, values and all"
