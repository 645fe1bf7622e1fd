"""MariaDB/MySQL: changes that copy the table, and syntax MySQL accepts but ignores."""

from __future__ import annotations

from dbshift.facts import Fact
from dbshift.linter.model import MYSQL, Context, Example
from dbshift.linter.rules.data_loss import old_type
from dbshift.linter.rules.registry import rule
from dbshift.linter.typechange import copies_mysql, enum_change_copies
from dbshift.ops.base import quoted

_NEW = 'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("x", sa.Integer))\n'


@rule(
    "DS401",
    "copying-alter",
    "error",
    "locking",
    MYSQL,
    summary="a change that cannot use ALGORITHM=INSTANT/INPLACE copies the table",
    why="A column type change (other than a longer VARCHAR within the same length-prefix "
    "size), a primary key change or ALGORITHM=COPY rebuilds the table row by row and blocks "
    "writes (LOCK=SHARED) until the copy is done.",
    instead="Use an online schema change tool (gh-ost, pt-online-schema-change) for large "
    "tables, or add a new column and backfill it.",
    fires=(
        Example(
            'op.alter_column("users", "score", type_=sa.BigInteger)',
            mysql_sql="ALTER TABLE users MODIFY score BIGINT;",
        ),
        Example(
            'op.create_primary_key("events_pkey", "events", ["id"])',
            mysql_sql="ALTER TABLE events ADD PRIMARY KEY (id);",
        ),
        Example(
            'op.execute("ALTER TABLE users DROP PRIMARY KEY")',
            mysql_sql="ALTER TABLE users DROP PRIMARY KEY;",
        ),
    ),
    passes=(
        Example(
            'op.alter_column("users", "name", type_=sa.String(150))',
            mysql_sql="ALTER TABLE users MODIFY name VARCHAR(150);",
        ),
    ),
)
def copying_alter(fact: Fact, ctx: Context) -> str | None:
    if not ctx.existing(fact):
        return None
    where = quoted(fact.schema, fact.table)
    if fact.algorithm == "COPY":
        return f"ALGORITHM=COPY copies {where}"
    if fact.kind in ("add_primary_key", "drop_primary_key"):
        verb = "adding" if fact.kind == "add_primary_key" else "dropping"
        return f"{verb} a primary key copies {where}"
    if fact.kind == "alter_type" and fact.new_type is not None:
        old = old_type(fact, ctx)
        if old is not None and old.name in ("enum", "set") and fact.new_type.name == old.name:
            return None  # DS403
        if copies_mysql(old, fact.new_type):
            column = quoted(fact.schema, fact.table, fact.column)
            return f"{column} changes type to {fact.new_type}: the table is copied"
    return None


@rule(
    "DS402",
    "not-null-rebuild",
    "warning",
    "locking",
    MYSQL,
    summary="making a column NOT NULL rebuilds the table",
    why="MODIFY ... NOT NULL on an existing column rebuilds the table in place (ALGORITHM="
    "INPLACE with a rebuild): long on a large table, and rows with NULL make it fail (or, "
    "outside strict mode, get an implicit zero or empty string).",
    instead="Backfill the NULLs first, and run the change on a large table with an online "
    "schema change tool.",
    fires=(
        Example(
            'op.alter_column("users", "name", nullable=False, existing_type=sa.String(100))',
            mysql_sql="ALTER TABLE users MODIFY name VARCHAR(100) NOT NULL;",
        ),
    ),
    passes=(
        Example(
            _NEW + 'op.alter_column("tmp", "x", nullable=False, existing_type=sa.Integer)',
            mysql_sql="CREATE TABLE tmp (id BIGINT PRIMARY KEY, x INT);\n"
            "ALTER TABLE tmp MODIFY x INT NOT NULL;",
        ),
    ),
)
def not_null_rebuild(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "set_not_null" or not ctx.existing(fact):
        return None
    column = ctx.state.column(fact)
    if column is not None and not column.nullable:
        return None
    return f"{quoted(fact.schema, fact.table, fact.column)} becomes NOT NULL: the table is rebuilt"


@rule(
    "DS403",
    "enum-copy",
    "error",
    "locking",
    MYSQL,
    summary="an ENUM/SET change that is not an append copies the table",
    why="MySQL changes an ENUM or SET column in place only when values are added at the end "
    "and the storage size stays the same; reordering, inserting in the middle or removing "
    "values copies the table.",
    instead="Append new values at the end of the list; leave unused values in place.",
    fires=(
        Example(
            'op.alter_column("users", "status", type_=sa.Enum("new", "banned", "active", name="user_status"))',
            mysql_sql="ALTER TABLE users MODIFY status ENUM('new', 'banned', 'active');",
        ),
    ),
    passes=(
        Example(
            'op.alter_column("users", "status", type_=sa.Enum("new", "active", "banned", name="user_status"))',
            mysql_sql="ALTER TABLE users MODIFY status ENUM('new', 'active', 'banned');",
        ),
    ),
)
def enum_copy(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "alter_type" or fact.new_type is None or not ctx.existing(fact):
        return None
    old = old_type(fact, ctx)
    if old is None or old.name not in ("enum", "set") or fact.new_type.name != old.name:
        return None
    if enum_change_copies(old, fact.new_type):
        column = quoted(fact.schema, fact.table, fact.column)
        return f"{column}: {old} to {fact.new_type} is not an append, the table is copied"
    return None


@rule(
    "DS404",
    "inline-references",
    "error",
    "hygiene",
    MYSQL,
    summary="an inline REFERENCES clause, which MySQL ignores",
    why="MySQL (and MariaDB before 10.5) parse `col INT REFERENCES t(id)` and silently "
    "create no foreign key: the constraint you read in the migration does not exist.",
    instead="Write the foreign key as a table constraint: `FOREIGN KEY (col) REFERENCES t (id)`.",
    versions="MySQL: all; MariaDB: before 10.5",
    fires=(
        Example(
            'op.execute("CREATE TABLE tmp (id BIGINT PRIMARY KEY, user_id BIGINT REFERENCES users (id))")',
            mysql_sql="CREATE TABLE tmp (id BIGINT PRIMARY KEY, user_id BIGINT REFERENCES users (id));",
            only=frozenset({"mysql"}),
        ),
        Example(
            'op.execute("CREATE TABLE tmp (id BIGINT PRIMARY KEY, user_id BIGINT REFERENCES users (id))")',
            mysql_sql="CREATE TABLE tmp (id BIGINT PRIMARY KEY, user_id BIGINT REFERENCES users (id));",
            version=(10, 4),
            only=frozenset({"mariadb"}),
        ),
    ),
    passes=(
        Example(
            'op.execute("CREATE TABLE tmp (id BIGINT PRIMARY KEY, user_id BIGINT REFERENCES users (id))")',
            mysql_sql="CREATE TABLE tmp (id BIGINT PRIMARY KEY, user_id BIGINT REFERENCES users (id));",
            version=(10, 5),
            only=frozenset({"mariadb"}),
        ),
        Example(
            'op.execute("CREATE TABLE tmp (id BIGINT PRIMARY KEY, user_id BIGINT, '
            'FOREIGN KEY (user_id) REFERENCES users (id))")',
            mysql_sql="CREATE TABLE tmp (id BIGINT PRIMARY KEY, user_id BIGINT, "
            "FOREIGN KEY (user_id) REFERENCES users (id));",
        ),
    ),
)
def inline_references(fact: Fact, ctx: Context) -> str | None:
    if ctx.target.backend == "mariadb" and ctx.target.at_least(10, 5):
        return None
    for column in fact.columns:
        if column.inline_reference and fact.kind in ("create_table", "add_column"):
            where = quoted(fact.schema, fact.table, column.name)
            return f"REFERENCES on {where} is ignored: no foreign key is created"
    return None


@rule(
    "DS405",
    "foreign-key-copy",
    "warning",
    "locking",
    MYSQL,
    summary="a foreign key added to an existing table copies it",
    why="With foreign_key_checks on (the default), ADD FOREIGN KEY cannot run in place: "
    "the table is copied while writes wait.",
    instead="Add the foreign key when creating the table, or run `SET foreign_key_checks = 0` "
    "first (the existing rows are then not checked: verify them yourself).",
    fires=(
        Example(
            'op.create_foreign_key("fk_events_user", "events", "users", ["id"], ["id"])',
            mysql_sql="ALTER TABLE events ADD CONSTRAINT fk_events_user FOREIGN KEY (id) REFERENCES users (id);",
        ),
    ),
    passes=(
        Example(
            _NEW + 'op.create_foreign_key("fk_tmp_user", "tmp", "users", ["x"], ["id"])',
            mysql_sql="SET foreign_key_checks = 0;\n"
            "ALTER TABLE events ADD CONSTRAINT fk_events_user FOREIGN KEY (id) REFERENCES users (id);",
        ),
    ),
)
def foreign_key_copy(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "add_foreign_key" or not ctx.existing(fact):
        return None
    if any(e.kind == "set" and e.setting == "foreign_key_checks" for e in ctx.earlier):
        return None
    return f"foreign key {quoted(fact.name)} on {quoted(fact.schema, fact.table)} copies the table"


@rule(
    "DS406",
    "add-column-not-instant",
    "warning",
    "locking",
    MYSQL,
    summary="ADD COLUMN rebuilds the table on an old server",
    why="MySQL before 8.0.12 and MariaDB before 10.3.2 cannot add a column instantly: the "
    "table is rebuilt (in place, but for as long as a copy takes).",
    instead="Upgrade the server, or add the column with an online schema change tool.",
    versions="MySQL before 8.0.12; MariaDB before 10.3.2",
    fires=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer))',
            mysql_sql="ALTER TABLE users ADD COLUMN age INT;",
            version=(5, 7),
        ),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer))',
            mysql_sql="ALTER TABLE users ADD COLUMN age INT;",
            version=(10, 11),
        ),
    ),
)
def add_column_not_instant(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "add_column" or not ctx.existing(fact):
        return None
    # MariaDB's 10.x versions compare above MySQL 8.0 and 5.x, so one cut-off per product.
    instant = (
        ctx.target.at_least(10, 3, 2)
        if ctx.target.backend == "mariadb"
        else (ctx.target.at_least(8, 0, 12))
    )
    if instant:
        return None
    return f"adding {quoted(fact.schema, fact.table, fact.column)} rebuilds the table on {ctx.target.label}"
