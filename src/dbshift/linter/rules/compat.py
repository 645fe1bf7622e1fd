"""Changes that break the release still running while the migration is applied."""

from __future__ import annotations

from dbshift.facts import Fact
from dbshift.linter.model import ALL, MYSQL, PG, SERVERS, Context, Example
from dbshift.linter.rules.registry import rule
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


# -- rollback compatibility: what the running release (or one rolled back to) relies on ------


def _new_column(fact: Fact, ctx: Context) -> bool:
    """Whether the fact's column was added earlier in this migration (or its table made
    here): no running code knows it yet."""
    if not ctx.existing(fact):
        return True
    return any(
        f.kind == "add_column" and f.key == fact.key and f.column == fact.column
        for f in ctx.earlier
    )


def _later(ctx: Context) -> tuple[Fact, ...]:
    """The facts of this migration after the one being checked."""
    return tuple(fact for fact, _ in ctx.migration.facts[len(ctx.earlier) + 1 :])


_CREATIONS = frozenset({"create_enum", "create_domain", "create_function"})


def _created_here(fact: Fact, ctx: Context) -> bool:
    """Whether the object a rename or move names (type, domain, function) was created
    earlier in this migration. Views, sequences and schemas made by SQL are not named by
    their facts, so a rename of one made in the same migration is still reported."""
    name = (fact.name or "").lower()
    return any(f.kind in _CREATIONS and (f.name or "").lower() == name for f in ctx.earlier)


@rule(
    "DS206",
    "drop-default",
    "warning",
    "backward-incompatible",
    ALL,
    summary="an existing column's default is dropped",
    why="The running release inserts rows without the column and counts on the server "
    "to fill it in: once the default is gone those rows get NULL instead, or fail if the "
    "column is NOT NULL (a serial key's default is its sequence). MySQL's MODIFY "
    "restates the whole column: without DEFAULT it drops the default too, and without "
    "AUTO_INCREMENT the key's generator.",
    instead="Deploy code that always writes the column first, then drop the default in a "
    "later release. Converting a serial to an identity column in one migration (DROP "
    "DEFAULT, then ADD GENERATED ... AS IDENTITY) is not reported.",
    fires=(
        Example(
            'op.alter_column("users", "score", server_default=None)',
            "ALTER TABLE users ALTER COLUMN score DROP DEFAULT;",
            only=SERVERS,
        ),
        Example(
            mysql_sql="ALTER TABLE users MODIFY score INTEGER;",
            only=MYSQL,
        ),
        Example(
            'op.alter_column("users", "score", server_default=None)', only=frozenset({"sqlite"})
        ),
    ),
    passes=(
        Example(
            'op.alter_column("users", "name", server_default=None)',
            "ALTER TABLE users ALTER COLUMN name DROP DEFAULT;",
            only=SERVERS,
        ),
        Example(
            'op.alter_column("users", "score", server_default="1")',
            "ALTER TABLE users ALTER COLUMN score SET DEFAULT 1;",
            mysql_sql="ALTER TABLE users MODIFY score INTEGER DEFAULT 1;",
            only=SERVERS,
        ),
        Example(
            sql="ALTER TABLE users ALTER COLUMN id DROP DEFAULT, "
            "ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;",
            only=PG,
        ),
        Example(
            mysql_sql="ALTER TABLE users MODIFY id BIGINT NOT NULL AUTO_INCREMENT;",
            only=MYSQL,
        ),
    ),
)
def drop_default(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "drop_default" or _new_column(fact, ctx):
        return None
    column = ctx.state.column(fact)
    serial = column is not None and column.generated and not column.identity
    if column is not None and column.default is None and not serial:
        return None  # it had none (MySQL's MODIFY restates a column without one)
    if any(
        f.kind == "add_identity" and f.key == fact.key and f.column == fact.column
        for f in _later(ctx)
    ):
        return None  # a serial becomes an identity column: still generated
    where = quoted(fact.schema, fact.table, fact.column)
    if serial:
        return f"{where} is no longer generated: inserts that leave the key out fail"
    if column is not None and not column.nullable:
        return f"the default of {where} is dropped: inserts that leave it out fail (NOT NULL)"
    return f"the default of {where} is dropped: inserts that leave it out now store NULL"


_RE_ADDS = {
    "drop_constraint": ("add_check", "add_unique", "add_foreign_key", "add_primary_key"),
    "drop_primary_key": ("add_primary_key",),
}


@rule(
    "DS207",
    "drop-constraint",
    "warning",
    "backward-incompatible",
    ALL,
    summary="a constraint of an existing table is dropped",
    why="Code and reports written against the table count on what the constraint "
    "guaranteed (one row per email, no orphaned reference, a valid status), and "
    "`INSERT ... ON CONFLICT (email)` needs the unique constraint it names or fails. Once "
    "it is dropped, rows it would have refused can be written, and a rollback that adds "
    "it back fails on them.",
    instead="Drop a constraint only once no code relies on it; to change one, add the "
    "new constraint (NOT VALID, then VALIDATE) before dropping the old, or drop and add "
    "it under the same name in one migration, which is not reported (nor is a "
    "constraint dropped by the migration that added it, nor a `CHECK (col IS NOT NULL)` "
    "dropped once its column is NOT NULL: the check only made `SET NOT NULL` cheap).",
    fires=(
        Example('op.drop_constraint("users_email_key", "users", type_="unique")'),
        Example(sql="ALTER TABLE users DROP CONSTRAINT users_email_key;", only=SERVERS),
        Example(
            mysql_sql="ALTER TABLE users DROP CHECK users_score_check;",
            only=MYSQL,
        ),
    ),
    passes=(
        Example(
            'op.drop_constraint("users_score_check", "users", type_="check")\n'
            'op.create_check_constraint("users_score_check", "users", "score >= 0")',
        ),
        Example(
            sql="ALTER TABLE users DROP CONSTRAINT users_score_check;\n"
            "ALTER TABLE users ADD CONSTRAINT users_score_check CHECK (score >= 0);",
            only=SERVERS,
        ),
        Example(
            _NEW_TABLE + 'op.create_unique_constraint("tmp_x_key", "tmp", ["x"])\n'
            'op.drop_constraint("tmp_x_key", "tmp", type_="unique")',
        ),
        Example(
            'op.create_check_constraint("users_name_nn", "users", "name IS NOT NULL")\n'
            'op.drop_constraint("users_name_nn", "users", type_="check")',
        ),
    ),
)
def drop_constraint(fact: Fact, ctx: Context) -> str | None:
    if fact.kind not in _RE_ADDS or not ctx.existing(fact):
        return None
    if any(_re_adds(fact, later) for later in _later(ctx)):
        return None  # replaced in the same migration
    if any(_re_adds(fact, earlier) for earlier in ctx.earlier):
        return None  # added in the same migration: no running code relies on it yet
    if _kept_by_not_null(fact, ctx):
        return None
    where = quoted(fact.schema, fact.table)
    what = f"constraint {quoted(fact.name)}" if fact.name else "the primary key"
    return f"{what} of {where} is dropped: rows it refused can now be written"


def _kept_by_not_null(dropped: Fact, ctx: Context) -> bool:
    """Whether `dropped` is a `CHECK (col IS NOT NULL)` whose column is NOT NULL by now:
    the check only made `SET NOT NULL` skip its scan, and the column keeps the guarantee."""
    if dropped.key is None or dropped.name is None:
        return False
    column = ctx.state.named_not_null_checks.get((dropped.key, dropped.name))
    if column is None:
        return False
    known = ctx.state.tables.get(dropped.key, {}).get(column)
    if known is not None:
        return not known.nullable
    return any(  # a table the history does not show: this migration's own SET NOT NULL
        f.kind == "set_not_null" and f.key == dropped.key and f.column == column
        for f in ctx.earlier
    )


def _re_adds(dropped: Fact, later: Fact) -> bool:
    """Whether `later` adds back the constraint `dropped` drops: the same name on the
    same table (any primary key, for MySQL's nameless DROP PRIMARY KEY)."""
    if later.kind not in _RE_ADDS[dropped.kind] or later.key != dropped.key:
        return False
    if dropped.kind == "drop_primary_key":
        return True
    return (later.name or "").lower() == (dropped.name or "").lower()


@rule(
    "DS208",
    "drop-extension",
    "warning",
    "backward-incompatible",
    PG,
    summary="an extension is dropped",
    why="The server refuses only while stored objects (columns, indexes, views, "
    "defaults) depend on the extension; queries of the running release that call its "
    "functions or operators directly (`crypt()` of pgcrypto, `similarity()` and `%` of "
    "pg_trgm, `uuid_generate_v4()` in an INSERT) are not stored anywhere and fail once it "
    "is gone. With CASCADE, see DS111.",
    instead="Drop the extension in a release after the code stops using it; or leave it "
    "installed, which costs nothing.",
    fires=(
        Example('op.execute("DROP EXTENSION pg_trgm")', "DROP EXTENSION pg_trgm;"),
        Example(sql="DROP EXTENSION IF EXISTS pgcrypto, citext RESTRICT;"),
    ),
    passes=(
        Example(
            'op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")',
            "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
        ),
    ),
)
def drop_extension(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "drop_extension":
        name = quoted(fact.name)
        return f"drop extension {name}: queries that call its functions or operators fail"
    return None


@rule(
    "DS209",
    "drop-generated-expression",
    "warning",
    "backward-incompatible",
    PG,
    versions="PostgreSQL 13+ (DROP EXPRESSION)",
    summary="a generated column becomes an ordinary one",
    why="`DROP EXPRESSION` keeps the stored values but computes no more: the running "
    "release never writes the column (it could not), so the rows it inserts from now on "
    "hold NULL there, and its updates leave the value stale. Rolling back needs the "
    "column dropped and added again, a rewrite of the table.",
    instead="Deploy code that writes the column itself first (a trigger can keep it "
    "filled meanwhile), then drop the expression.",
    fires=(
        Example(
            'op.execute("ALTER TABLE users ALTER COLUMN score DROP EXPRESSION")',
            "ALTER TABLE users ALTER COLUMN score DROP EXPRESSION;",
        ),
    ),
    passes=(
        Example(
            sql="ALTER TABLE users ADD COLUMN score2 integer GENERATED ALWAYS AS (score * 2) "
            "STORED;\nALTER TABLE users ALTER COLUMN score2 DROP EXPRESSION;",
        ),
    ),
)
def drop_generated_expression(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "drop_expression" and not _new_column(fact, ctx):
        where = quoted(fact.schema, fact.table, fact.column)
        return f"{where} is no longer generated: rows the running release inserts get NULL"
    return None


@rule(
    "DS210",
    "identity-always",
    "warning",
    "backward-incompatible",
    PG,
    versions="PostgreSQL 10+ (identity columns)",
    summary="an existing column becomes GENERATED ALWAYS",
    why="A GENERATED ALWAYS identity refuses every value an INSERT gives it (`cannot "
    "insert a non-DEFAULT value into column`): the running release's inserts that set "
    "the key themselves (copies, imports, fixtures, an ORM that fetched `nextval()` "
    "first) fail. BY DEFAULT accepts them.",
    instead="Use GENERATED BY DEFAULT; make it ALWAYS in a later release once no code "
    "writes the column (or writes it with OVERRIDING SYSTEM VALUE).",
    fires=(
        Example(
            'op.execute("ALTER TABLE users ALTER COLUMN id SET GENERATED ALWAYS")',
            "ALTER TABLE users ALTER COLUMN id SET GENERATED ALWAYS;",
        ),
        Example(
            sql="ALTER TABLE users ALTER COLUMN id DROP DEFAULT, "
            "ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;",
        ),
    ),
    passes=(
        Example(
            'op.execute("ALTER TABLE users ALTER COLUMN id SET GENERATED BY DEFAULT")',
            "ALTER TABLE users ALTER COLUMN id SET GENERATED BY DEFAULT;",
        ),
        Example(sql="ALTER TABLE users ALTER COLUMN id RESTART WITH 1000;"),
    ),
)
def identity_always(fact: Fact, ctx: Context) -> str | None:
    if fact.kind not in ("add_identity", "set_identity") or fact.generation != "always":
        return None
    if _new_column(fact, ctx):
        return None
    where = quoted(fact.schema, fact.table, fact.column)
    return f"{where} becomes GENERATED ALWAYS: inserts that give it a value fail"


@rule(
    "DS211",
    "drop-identity",
    "error",
    "backward-incompatible",
    PG,
    versions="PostgreSQL 10+ (identity columns)",
    summary="an existing column's identity is dropped",
    why="The column stays NOT NULL but nothing fills it any more: every insert of the "
    "running release that leaves the key to the server fails. The identity's sequence "
    "goes with it, so a rollback that adds the identity back starts numbering at 1, "
    "into keys already used.",
    instead="Keep the identity until the code supplies the values itself; to switch a "
    "column to another generator, set its new default in the same statement.",
    fires=(
        Example(
            'op.execute("ALTER TABLE users ALTER COLUMN id DROP IDENTITY")',
            "ALTER TABLE users ALTER COLUMN id DROP IDENTITY IF EXISTS;",
        ),
    ),
    passes=(
        Example(
            sql="CREATE TABLE tmp (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);\n"
            "ALTER TABLE tmp ALTER COLUMN id DROP IDENTITY;",
        ),
    ),
)
def drop_identity(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "drop_identity" or _new_column(fact, ctx):
        return None
    if any(
        f.kind == "set_default" and f.key == fact.key and f.column == fact.column
        for f in _later(ctx)
    ):
        return None  # another generator takes over
    where = quoted(fact.schema, fact.table, fact.column)
    return f"{where} loses its identity: inserts that leave the key to the server fail"


_DROPPED = {
    "VIEW": "view",
    "MATERIALIZED VIEW": "materialized view",
    "FUNCTION": "function",
    "PROCEDURE": "procedure",
}


@rule(
    "DS214",
    "drop-view-or-function",
    "warning",
    "backward-incompatible",
    ALL,
    summary="a view, materialized view, function or procedure is dropped",
    why="Nothing is lost that a CREATE cannot bring back, but the running release still "
    "selects from the view or calls the function, and fails from the commit on; the "
    "server refuses the drop only while another stored object (a view, a trigger, a "
    "default) uses it. (A view created by SQL in the same migration is reported too: "
    "its fact does not carry its name.)",
    instead="Drop it in a release after the code stops using it, and suppress this "
    "finding there; to change a view or function, `CREATE OR REPLACE` it.",
    fires=(
        Example('op.execute("DROP VIEW active_users")', "DROP VIEW active_users;"),
        Example(sql="DROP FUNCTION user_rank(bigint), user_level(bigint);", only=PG),
        Example(sql="DROP MATERIALIZED VIEW IF EXISTS user_totals;", only=PG),
    ),
    passes=(
        Example(
            sql="CREATE FUNCTION tmp_rank() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;\n"
            "DROP FUNCTION tmp_rank();",
            only=PG,
        ),
        Example(sql="DROP TRIGGER IF EXISTS users_touch ON users;", only=PG),
    ),
)
def drop_view_or_function(fact: Fact, ctx: Context) -> str | None:
    what = _DROPPED.get(fact.scope or "") if fact.kind == "drop_object" else None
    if what is None or _created_here(fact, ctx):
        return None
    return f"drop {what} {quoted(fact.schema, fact.name)}: running code that uses it fails"


#: what running code names in its queries (an index, a domain it does not: columns refer to
#: a domain by its oid, and no query names an index)
_NAMED_BY_CODE = {
    "VIEW": "view",
    "MATERIALIZED VIEW": "materialized view",
    "SEQUENCE": "sequence",
    "FUNCTION": "function",
    "PROCEDURE": "procedure",
    "SCHEMA": "schema",
    "TYPE": "type",
}


@rule(
    "DS212",
    "rename-object",
    "error",
    "backward-incompatible",
    PG,
    summary="a view, sequence, function, type, schema or enum value in use is renamed",
    why="Running code names these in its SQL: it selects from the view, calls "
    "`nextval('invoice_numbers')` (SQLAlchemy does for a `sa.Sequence`), calls the "
    "function, qualifies names with the schema, casts to the type (SQLAlchemy's asyncpg "
    "driver writes `$1::user_status` for every enum parameter) and writes the enum "
    "value, so it fails from the commit on. Columns, defaults and triggers refer to the "
    "object itself and follow the rename; so index and domain renames are not reported.",
    instead="Create the new object beside the old one (a view under the new name, a "
    "function that calls the old), switch the code, and drop the old name in a later "
    "release; add an enum value and migrate the rows rather than renaming it.",
    fires=(
        Example(
            'op.execute("ALTER VIEW active_users RENAME TO current_users")',
            "ALTER VIEW active_users RENAME TO current_users;",
        ),
        Example(sql="ALTER SEQUENCE invoice_numbers RENAME TO invoice_no;"),
        Example(sql="ALTER FUNCTION user_rank(bigint) RENAME TO rank_user;"),
        Example(sql="ALTER TYPE mood RENAME TO feeling;"),
        Example(sql="ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy';"),
        Example(sql="ALTER SCHEMA reporting RENAME TO analytics;"),
    ),
    passes=(
        Example(
            'op.execute("ALTER INDEX ix_users_name RENAME TO users_name_idx")',
            "ALTER INDEX ix_users_name RENAME TO users_name_idx;",
        ),
        Example(sql="CREATE TYPE level AS ENUM ('low', 'high');\nALTER TYPE level RENAME TO tier;"),
    ),
)
def rename_object(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "rename_enum_value" and fact.name not in _created_names(ctx):
        old, new = fact.values
        return (
            f"enum value {old!r} of {quoted(fact.schema, fact.name)} becomes {new!r}: "
            "the running release still writes and compares the old one"
        )
    what = _NAMED_BY_CODE.get(fact.scope or "") if fact.kind == "rename_object" else None
    if what is None or _created_here(fact, ctx):
        return None
    old = quoted(fact.schema, fact.name)
    return f"rename {what} {old} to {quoted(fact.new_name)}: running code still uses {old}"


def _created_names(ctx: Context) -> set[str | None]:
    return {f.name for f in ctx.earlier if f.kind in _CREATIONS}


@rule(
    "DS213",
    "set-schema",
    "error",
    "backward-incompatible",
    PG,
    summary="a table, view, sequence, function or type in use moves to another schema",
    why="`SET SCHEMA` is a rename as far as running code is concerned: queries that "
    "qualify the old schema fail at once, and unqualified ones fail as soon as the new "
    "schema is not on their `search_path`. Indexes move with their table; a domain is "
    "not reported, as for DS212.",
    instead="Leave the object where it is, or create it in the new schema (a view over "
    "the old table), switch the code, and drop the old one in a later release.",
    fires=(
        Example(
            'op.execute("ALTER TABLE events SET SCHEMA archive")',
            "ALTER TABLE events SET SCHEMA archive;",
        ),
        Example(sql="ALTER TYPE mood SET SCHEMA archive;"),
        Example(sql="ALTER FUNCTION user_rank(bigint) SET SCHEMA archive;"),
    ),
    passes=(
        Example(
            _NEW_TABLE + 'op.execute("ALTER TABLE tmp SET SCHEMA archive")',
            _NEW_TABLE_SQL + "ALTER TABLE tmp SET SCHEMA archive;",
        ),
        Example(sql="ALTER DOMAIN positive_int SET SCHEMA archive;"),
    ),
)
def set_schema(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "set_schema":
        return None
    if fact.scope == "TABLE":
        if not ctx.existing(fact):
            return None
        old = quoted(fact.schema, fact.table)
        return f"table {old} moves to schema {quoted(fact.new_name)}: running code still uses {old}"
    what = _NAMED_BY_CODE.get(fact.scope or "")
    if what is None or _created_here(fact, ctx):
        return None
    old = quoted(fact.schema, fact.name)
    return f"{what} {old} moves to schema {quoted(fact.new_name)}: running code still uses {old}"
