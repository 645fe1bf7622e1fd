"""PostgreSQL: locks that block the application, and changes that rewrite a table."""

from __future__ import annotations

from collections.abc import Callable

from dbshift.facts import ColumnFact, Fact, added_column
from dbshift.linter.locks import PG_TABLE_LOCKING
from dbshift.linter.model import PG, Context, Example, MigrationFacts, Target
from dbshift.linter.rules.data_loss import old_type
from dbshift.linter.rules.registry import migration_rule, rule
from dbshift.linter.typechange import rewrites_postgresql
from dbshift.linter.volatility import volatile_call
from dbshift.ops.base import quoted

_NEW = 'op.create_table("tmp", sa.Column("id", sa.BigInteger), sa.Column("x", sa.Integer))\n'
_NEW_SQL = "CREATE TABLE tmp (id BIGINT, x INTEGER);\n"
_NOTX = "transactional = False"
_JSONB = "from sqlalchemy.dialects.postgresql import JSONB\n"
_STABLE_FUNCTION = (
    "CREATE FUNCTION myjsonb() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT '{}'::jsonb $$"
)


def _where(fact: Fact) -> str:
    return quoted(fact.schema, fact.table)


def _added_under_lock(
    fact: Fact,
    ctx: Context,
    statement: str | None,
    inline: Callable[[ColumnFact], bool],
    inline_message: str,
) -> str | None:
    """DS304, DS309, DS310: a constraint added to an existing table under a lock, by its
    own statement (`statement`: the message, None when the fact is not one that locks)
    or inline on a column being added (`inline` says whether the column carries it)."""
    if not ctx.existing(fact):
        return None
    if statement is not None:
        return statement
    column = added_column(fact)
    if column is not None and inline(column):
        return f"{quoted(fact.schema, fact.table, column.name)} {inline_message}"
    return None


@rule(
    "DS301",
    "index-not-concurrently",
    "error",
    "locking",
    PG,
    summary="CREATE INDEX without CONCURRENTLY on an existing table",
    why="A plain CREATE INDEX takes a SHARE lock: every INSERT, UPDATE and DELETE on the "
    "table waits until the whole index is built, minutes on a large table.",
    instead="Build it with CONCURRENTLY (`postgresql_concurrently=True`) in a migration "
    "marked `transactional = False`.",
    fires=(
        Example(
            'op.create_index("ix_users_email", "users", ["email"])',
            "CREATE INDEX ix_users_email ON users (email);",
        ),
    ),
    passes=(
        Example(
            'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
            "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
            transactional=False,
        ),
        Example(
            _NEW + 'op.create_index("ix_tmp_x", "tmp", ["x"])',
            _NEW_SQL + "CREATE INDEX ix_tmp_x ON tmp (x);",
        ),
    ),
)
def index_not_concurrently(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "create_index" and not fact.concurrently and ctx.existing(fact):
        return f"index {quoted(fact.name)} on {_where(fact)} blocks writes while it is built"
    return None


@rule(
    "DS302",
    "drop-index-not-concurrently",
    "warning",
    "locking",
    PG,
    summary="DROP INDEX without CONCURRENTLY",
    why="A plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: it waits for every "
    "running query on the table and blocks all new ones, reads included, while it waits.",
    instead="Drop it with CONCURRENTLY (`postgresql_concurrently=True`) in a migration "
    "marked `transactional = False`.",
    fires=(Example('op.drop_index("ix_users_name", "users")', "DROP INDEX ix_users_name;"),),
    passes=(
        Example(
            'op.drop_index("ix_users_name", "users", postgresql_concurrently=True)',
            "DROP INDEX CONCURRENTLY ix_users_name;",
            transactional=False,
        ),
    ),
)
def drop_index_not_concurrently(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "drop_index" or fact.concurrently:
        return None
    made_here = any(e.kind == "create_index" and e.name == fact.name for e in ctx.earlier)
    if not made_here and (fact.key is None or ctx.existing(fact)):
        return f"drop index {quoted(fact.name)} locks its table against reads and writes"
    return None


@rule(
    "DS303",
    "concurrently-in-transaction",
    "error",
    "locking",
    PG,
    summary="CONCURRENTLY inside a transactional migration",
    why="CREATE/DROP INDEX, REINDEX and DETACH PARTITION ... CONCURRENTLY cannot run inside "
    "a transaction block: the migration fails as soon as it reaches the statement.",
    instead="Mark the migration `transactional = False` (Python) or `-- transactional: false` "
    "(SQL), and keep the concurrent statement alone in it.",
    fires=(
        Example(
            'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
            "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
        ),
        Example(
            'op.execute("REINDEX INDEX CONCURRENTLY ix_users_name")',
            "REINDEX INDEX CONCURRENTLY ix_users_name;",
        ),
    ),
    passes=(
        Example(
            'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
            "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
            transactional=False,
        ),
    ),
)
def concurrently_in_transaction(fact: Fact, ctx: Context) -> str | None:
    if fact.concurrently and ctx.migration.transactional:
        what = f"{fact.kind.replace('_', ' ')} {quoted(fact.name or fact.table)}"
        return f"{what} CONCURRENTLY cannot run in a transaction"
    return None


@rule(
    "DS304",
    "foreign-key-not-valid",
    "error",
    "locking",
    PG,
    summary="a foreign key is added to an existing table without NOT VALID",
    why="Adding a foreign key scans the whole table to validate it while holding a SHARE ROW "
    "EXCLUSIVE lock on both tables: writes to either wait for the scan. An inline "
    "`ADD COLUMN ... REFERENCES` does the same, and cannot be NOT VALID.",
    instead="Add it `NOT VALID` (fast), then `VALIDATE CONSTRAINT` in a later migration, "
    "which takes a lock that lets writes through. For a new column: add the column, then "
    "the foreign key NOT VALID.",
    fires=(
        Example(
            'op.create_foreign_key("fk_events_user", "events", "users", ["id"], ["id"])',
            "ALTER TABLE events ADD CONSTRAINT fk_events_user FOREIGN KEY (id) REFERENCES users (id);",
        ),
        Example(
            'op.add_column("events", sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id")))',
            "ALTER TABLE events ADD COLUMN user_id BIGINT REFERENCES users (id);",
        ),
    ),
    passes=(
        Example(
            _NEW + 'op.create_foreign_key("fk_tmp_user", "tmp", "users", ["x"], ["id"])',
            "ALTER TABLE events ADD CONSTRAINT fk_events_user FOREIGN KEY (id) REFERENCES users (id) NOT VALID;",
        ),
    ),
)
def foreign_key_not_valid(fact: Fact, ctx: Context) -> str | None:
    statement = fact.kind == "add_foreign_key" and not fact.not_valid
    return _added_under_lock(
        fact,
        ctx,
        f"foreign key {quoted(fact.name)} on {_where(fact)} is validated under a lock"
        if statement
        else None,
        lambda column: column.inline_reference,
        "is added with REFERENCES: the foreign key is validated under a lock",
    )


@rule(
    "DS305",
    "check-not-valid",
    "error",
    "locking",
    PG,
    summary="a check constraint is added to an existing table without NOT VALID",
    why="Adding a CHECK scans every row under an ACCESS EXCLUSIVE lock: the table is "
    "unreadable and unwritable until the scan ends.",
    instead="Add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a later migration.",
    fires=(
        Example(
            'op.create_check_constraint("ck_score", "users", "score >= 0")',
            "ALTER TABLE users ADD CONSTRAINT ck_score CHECK (score >= 0);",
        ),
    ),
    passes=(
        Example(
            _NEW + 'op.create_check_constraint("ck_x", "tmp", "x >= 0")',
            "ALTER TABLE users ADD CONSTRAINT ck_score CHECK (score >= 0) NOT VALID;",
        ),
    ),
)
def check_not_valid(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "add_check" and not fact.not_valid and ctx.existing(fact):
        return f"check {quoted(fact.name)} on {_where(fact)} is validated under a lock"
    return None


@rule(
    "DS306",
    "set-not-null-scan",
    "warning",
    "locking",
    PG,
    summary="SET NOT NULL without a validated check constraint",
    why="SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock. From "
    "PostgreSQL 12 the scan is skipped when a validated `CHECK (col IS NOT NULL)` exists.",
    instead="Add `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it in a later "
    "migration, then SET NOT NULL (and drop the check). Before PostgreSQL 12 there is no "
    "way around the scan: run it in a quiet period.",
    versions="all; the check pattern helps from 12",
    fires=(
        Example(
            'op.alter_column("users", "name", nullable=False)',
            "ALTER TABLE users ALTER COLUMN name SET NOT NULL;",
        ),
    ),
    passes=(
        Example(
            'op.execute("ALTER TABLE users ADD CONSTRAINT ck_name CHECK (name IS NOT NULL) NOT VALID")\n'
            'op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_name")\n'
            'op.alter_column("users", "name", nullable=False)',
            "ALTER TABLE users ADD CONSTRAINT ck_name CHECK (name IS NOT NULL) NOT VALID;\n"
            "ALTER TABLE users VALIDATE CONSTRAINT ck_name;\n"
            "ALTER TABLE users ALTER COLUMN name SET NOT NULL;",
        ),
    ),
)
def set_not_null_scan(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "set_not_null" or not ctx.existing(fact):
        return None
    checked = (fact.key, fact.column) in ctx.state.not_null_checks
    if checked and ctx.target.at_least(12):
        return None
    return f"SET NOT NULL on {quoted(fact.schema, fact.table, fact.column)} scans the table under an exclusive lock"


@rule(
    "DS307",
    "type-change-rewrite",
    "error",
    "locking",
    PG,
    summary="a column type change rewrites the table",
    why="Most type changes rewrite the whole table and rebuild its indexes under an ACCESS "
    "EXCLUSIVE lock. Only binary-compatible changes are free: a longer varchar, varchar to "
    "text, numeric with more precision and the same scale.",
    instead="Add a column of the new type, backfill it in batches, switch code over, and "
    "drop the old column later.",
    fires=(
        Example(
            'op.alter_column("users", "score", type_=sa.BigInteger)',
            "ALTER TABLE users ALTER COLUMN score TYPE bigint;",
        ),
    ),
    passes=(
        Example(
            'op.alter_column("users", "name", type_=sa.String(200))',
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);",
        ),
    ),
)
def type_change_rewrite(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "alter_type" or fact.new_type is None or not ctx.existing(fact):
        return None
    old = old_type(fact, ctx)
    if rewrites_postgresql(old, fact.new_type):
        before = f" from {old}" if old else ""
        where = quoted(fact.schema, fact.table, fact.column)
        return f"{where} changes type{before} to {fact.new_type}: the table is rewritten"
    return None


@rule(
    "DS308",
    "default-rewrite",
    "error",
    "locking",
    PG,
    summary="a column is added with a default that rewrites the table",
    why="A volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval()) is "
    "computed per row, so the table is rewritten under an ACCESS EXCLUSIVE lock. Before "
    "PostgreSQL 11 any default does that; from 11 a non-volatile default is computed once "
    "and stored. A function the linter does not know to be IMMUTABLE or STABLE (a builtin "
    "on its list, or one a migration created so) counts as volatile, as CREATE FUNCTION "
    "declares it unless told otherwise.",
    instead="Add the column without a default (or with a constant one on 11+), then set "
    "the default for new rows and backfill old rows in batches.",
    versions="volatile defaults: all; any default: before 11",
    fires=(
        Example(
            'op.add_column("users", sa.Column("token", sa.Text, server_default=sa.text("gen_random_uuid()::text")))',
            "ALTER TABLE users ADD COLUMN token TEXT DEFAULT gen_random_uuid()::text;",
        ),
        Example(
            'op.add_column("users", sa.Column("level", sa.Integer, server_default="1"))',
            "ALTER TABLE users ADD COLUMN level INTEGER DEFAULT 1;",
            version=(10,),
        ),
        Example(
            _JSONB + 'op.add_column("users", sa.Column("prefs", JSONB, '
            'server_default=sa.text("myjsonb()")))',
            "ALTER TABLE users ADD COLUMN prefs JSONB DEFAULT myjsonb();",
        ),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("level", sa.Integer, server_default="1"))',
            "ALTER TABLE users ADD COLUMN level INTEGER DEFAULT 1;",
            version=(11,),
        ),
        Example(
            'op.add_column("users", sa.Column("seen_at", sa.DateTime(timezone=True), '
            'server_default=sa.text("now()")))',
            "ALTER TABLE users ADD COLUMN seen_at TIMESTAMPTZ DEFAULT now();",
        ),
        Example(
            f"op.execute({_STABLE_FUNCTION!r})\n"
            + _JSONB
            + 'op.add_column("users", sa.Column("prefs", JSONB, '
            'server_default=sa.text("myjsonb()")))',
            _STABLE_FUNCTION + ";\nALTER TABLE users ADD COLUMN prefs JSONB DEFAULT myjsonb();",
        ),
    ),
)
def default_rewrite(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "add_column" or not fact.columns or not ctx.existing(fact):
        return None
    column = fact.columns[0]
    if column.default is None:
        return None
    where = quoted(fact.schema, fact.table, column.name)
    call = volatile_call(column.default, ctx.state.functions)
    if call is not None:
        return (
            f"{where} is added with default {column.default}, calling {call}() "
            "(volatile, or not known to be stable): the table is rewritten"
        )
    if not ctx.target.at_least(11):
        return f"{where} is added with a default: before PostgreSQL 11 the table is rewritten"
    return None


@rule(
    "DS309",
    "unique-without-index",
    "error",
    "locking",
    PG,
    summary="ADD UNIQUE on an existing table without USING INDEX",
    why="The unique index behind the constraint is built under an ACCESS EXCLUSIVE lock: "
    "no reads or writes until it is done. `ADD COLUMN ... UNIQUE` builds one the same way.",
    instead="`CREATE UNIQUE INDEX CONCURRENTLY` first (non-transactional migration), then "
    "`ALTER TABLE ... ADD CONSTRAINT name UNIQUE USING INDEX index_name`.",
    fires=(
        Example(
            'op.create_unique_constraint("uq_users_email", "users", ["email"])',
            "ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE (email);",
        ),
        Example(
            'op.add_column("users", sa.Column("handle", sa.Text, unique=True))',
            "ALTER TABLE users ADD COLUMN handle TEXT UNIQUE;",
        ),
    ),
    passes=(
        Example(
            'op.execute("ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX ix_users_email")',
            "ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX ix_users_email;",
        ),
    ),
)
def unique_without_index(fact: Fact, ctx: Context) -> str | None:
    statement = fact.kind == "add_unique" and not fact.using_index
    return _added_under_lock(
        fact,
        ctx,
        f"unique constraint {quoted(fact.name)} on {_where(fact)} builds its index under a lock"
        if statement
        else None,
        lambda column: column.unique,
        "is added UNIQUE: its index is built under a lock",
    )


@rule(
    "DS310",
    "primary-key-without-index",
    "error",
    "locking",
    PG,
    summary="ADD PRIMARY KEY on an existing table without USING INDEX",
    why="The primary key's index is built (and the columns checked for NULLs) under an "
    "ACCESS EXCLUSIVE lock; `ADD COLUMN ... PRIMARY KEY` does the same.",
    instead="`CREATE UNIQUE INDEX CONCURRENTLY`, then `ALTER TABLE ... ADD CONSTRAINT name "
    "PRIMARY KEY USING INDEX index_name`.",
    fires=(
        Example(
            'op.create_primary_key("events_pkey", "events", ["id"])',
            "ALTER TABLE events ADD PRIMARY KEY (id);",
        ),
        Example(sql="ALTER TABLE events ADD COLUMN event_id BIGSERIAL PRIMARY KEY;"),
    ),
    passes=(
        Example(
            'op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX ix_events_id")',
            "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX ix_events_id;",
        ),
    ),
)
def primary_key_without_index(fact: Fact, ctx: Context) -> str | None:
    statement = fact.kind == "add_primary_key" and not fact.using_index
    return _added_under_lock(
        fact,
        ctx,
        f"primary key on {_where(fact)} builds its index under a lock" if statement else None,
        lambda column: column.primary_key,
        "is added as the PRIMARY KEY: its index is built under a lock",
    )


@rule(
    "DS311",
    "enum-value-in-transaction",
    "error",
    "locking",
    PG,
    summary="ALTER TYPE ... ADD VALUE inside a transaction before PostgreSQL 12",
    why="Before PostgreSQL 12, ADD VALUE cannot run inside a transaction block: the "
    "migration fails. (From 12 it can, but the new value is unusable until it commits.)",
    instead="Put the ADD VALUE in its own migration marked `transactional = False`, "
    "or upgrade the server.",
    versions="before 12",
    fires=(
        Example(
            'op.add_enum_value("mood", "meh")',
            "ALTER TYPE mood ADD VALUE 'meh';",
            version=(11,),
        ),
    ),
    passes=(
        Example(
            'op.add_enum_value("mood", "meh")', "ALTER TYPE mood ADD VALUE 'meh';", version=(12,)
        ),
        Example(
            'op.add_enum_value("mood", "meh")',
            "ALTER TYPE mood ADD VALUE 'meh';",
            version=(11,),
            transactional=False,
        ),
    ),
)
def enum_value_in_transaction(fact: Fact, ctx: Context) -> str | None:
    if (
        fact.kind == "add_enum_value"
        and ctx.migration.transactional
        and not ctx.target.at_least(12)
    ):
        return f"ADD VALUE to enum {quoted(fact.name)} fails in a transaction before PostgreSQL 12"
    return None


@migration_rule(
    "DS312",
    "no-lock-timeout",
    "warning",
    "locking",
    PG,
    summary="DDL on an existing table without a lock_timeout",
    why="A DDL statement waiting for its lock (behind one long query) makes every later "
    "query on the table queue behind it: the application stalls for as long as it waits.",
    instead="Let dbshift set it: `table_lock_timeout` (3 s by default) with retries; "
    "this rule runs only when that is turned off. Otherwise start the migration with "
    "`SET lock_timeout = '5s'` (`op.execute(...)`) and retry on timeout.",
    fires=(Example('op.drop_index("ix_users_name", "users")', "DROP INDEX ix_users_name;"),),
    passes=(
        Example(
            'op.execute("SET lock_timeout = \'5s\'")\nop.drop_index("ix_users_name", "users")',
            "SET lock_timeout = '5s';\nDROP INDEX ix_users_name;",
        ),
    ),
)
def no_lock_timeout(migration: MigrationFacts, target: Target) -> list[tuple[int, str]]:
    created: set[str | None] = set()
    for fact, line in migration.facts:
        if fact.kind == "set" and fact.setting == "lock_timeout":
            return []
        if fact.kind == "create_table":
            created.add(fact.key)
        elif fact.kind in PG_TABLE_LOCKING and (fact.key is None or fact.key not in created):
            return [(line, f"{fact.kind.replace('_', ' ')} runs with no lock_timeout set")]
    return []


@rule(
    "DS313",
    "enum-rebuild",
    "warning",
    "locking",
    PG,
    summary="an enum type's values are replaced (the type is rebuilt)",
    why="Changing an enum other than by appending a value renames the type, creates a new "
    "one and converts every column using it: each such table is rewritten under an ACCESS "
    "EXCLUSIVE lock.",
    instead="Append values with `op.add_enum_value` (ALTER TYPE ... ADD VALUE), which "
    "rewrites nothing.",
    fires=(Example('op.set_enum_values("mood", ["sad", "happy"])'),),
    passes=(Example('op.add_enum_value("mood", "meh")'),),
)
def enum_rebuild(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "set_enum_values" and fact.name in ctx.state.enums:
        return f"enum {quoted(fact.name)} is rebuilt: every column using it is rewritten"
    return None


@rule(
    "DS314",
    "validate-same-transaction",
    "warning",
    "locking",
    PG,
    summary="a NOT VALID constraint is validated in the same transaction",
    why="NOT VALID is only useful when VALIDATE runs in a separate transaction: in the same "
    "one the lock taken by ADD CONSTRAINT is held during the whole validation scan.",
    instead="Move `VALIDATE CONSTRAINT` to the next migration (or mark this one "
    "`transactional = False`).",
    fires=(
        Example(
            'op.execute("ALTER TABLE users ADD CONSTRAINT ck_score CHECK (score >= 0) NOT VALID")\n'
            'op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_score")',
            "ALTER TABLE users ADD CONSTRAINT ck_score CHECK (score >= 0) NOT VALID;\n"
            "ALTER TABLE users VALIDATE CONSTRAINT ck_score;",
        ),
    ),
    passes=(
        Example(
            'op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_score")',
            "ALTER TABLE users VALIDATE CONSTRAINT ck_score;",
        ),
        Example(
            'op.execute("ALTER TABLE users ADD CONSTRAINT ck_score CHECK (score >= 0) NOT VALID")\n'
            'op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_score")',
            "ALTER TABLE users ADD CONSTRAINT ck_score CHECK (score >= 0) NOT VALID;\n"
            "ALTER TABLE users VALIDATE CONSTRAINT ck_score;",
            transactional=False,
        ),
    ),
)
def validate_same_transaction(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "validate_constraint" or not ctx.migration.transactional:
        return None
    added = any(
        e.kind in ("add_check", "add_foreign_key") and e.not_valid and e.name == fact.name
        for e in ctx.earlier
    )
    if added:
        return f"constraint {quoted(fact.name)} is validated in the transaction that added it"
    return None


def _stored(stored: bool | None, target: Target) -> bool:
    """Whether a generated column is stored: as the statement says, else the server's
    default (stored up to PostgreSQL 17; 18 makes VIRTUAL the default)."""
    if stored is not None:
        return stored
    return target.version is None or target.version < (18,)


@rule(
    "DS315",
    "generated-column-rewrite",
    "error",
    "locking",
    PG,
    summary="a stored generated, identity or serial column is added to an existing table",
    why="The new column's value is computed for every existing row (a STORED generation "
    "expression, or the next value of the identity's or serial's sequence), so the table "
    "is rewritten, with its indexes, under an ACCESS EXCLUSIVE lock.",
    instead="Add a plain nullable column, fill it in batches and keep it filled (a trigger, "
    "or the application). For an identity: once every row has a value, `SET NOT NULL` "
    "(see DS306) and `ALTER COLUMN ... ADD GENERATED BY DEFAULT AS IDENTITY`, which "
    "rewrites nothing. From PostgreSQL 18 a VIRTUAL generated column is computed on read "
    "and rewrites nothing.",
    versions="all; VIRTUAL columns (no rewrite) from 18",
    fires=(
        Example(
            'op.add_column("users", sa.Column("score2", sa.Integer, sa.Computed("score * 2")))',
            "ALTER TABLE users ADD COLUMN score2 INTEGER GENERATED ALWAYS AS (score * 2) STORED;",
        ),
        Example(
            'op.add_column("events", sa.Column("seq", sa.BigInteger, sa.Identity()))',
            "ALTER TABLE events ADD COLUMN seq BIGINT GENERATED BY DEFAULT AS IDENTITY;",
        ),
        Example(sql="ALTER TABLE events ADD COLUMN seq BIGSERIAL;"),
    ),
    passes=(
        Example(
            _NEW + 'op.add_column("tmp", sa.Column("x2", sa.Integer, sa.Computed("x * 2")))',
            _NEW_SQL + "ALTER TABLE tmp ADD COLUMN x2 INTEGER GENERATED ALWAYS AS (x * 2) STORED;",
        ),
        Example(
            sql="ALTER TABLE users ADD COLUMN score2 INTEGER GENERATED ALWAYS AS (score * 2) "
            "VIRTUAL;",
            version=(18,),
        ),
    ),
)
def generated_column_rewrite(fact: Fact, ctx: Context) -> str | None:
    column = added_column(fact)
    if column is None or not ctx.existing(fact):
        return None
    where = quoted(fact.schema, fact.table, column.name)
    if column.computed is not None and _stored(column.stored, ctx.target):
        return f"{where} is a stored generated column: adding it rewrites the table"
    if column.generated:
        return f"{where} takes a sequence value for every existing row: the table is rewritten"
    return None


@rule(
    "DS316",
    "reindex-not-concurrently",
    "error",
    "locking",
    PG,
    summary="REINDEX without CONCURRENTLY",
    why="A plain REINDEX blocks writes to the table while the index is rebuilt, and takes "
    "an ACCESS EXCLUSIVE lock on the index: queries that would use it wait too. "
    "(`REINDEX SYSTEM` is not reported: system catalogs cannot be reindexed "
    "concurrently.)",
    instead="`REINDEX ... CONCURRENTLY` (PostgreSQL 12+) in a migration marked "
    "`transactional = False`; before 12, build a new index CONCURRENTLY and drop the old one.",
    versions="all; CONCURRENTLY from 12",
    fires=(
        Example('op.execute("REINDEX INDEX ix_users_name")', "REINDEX INDEX ix_users_name;"),
        Example('op.execute("REINDEX TABLE users")', "REINDEX TABLE users;"),
    ),
    passes=(
        Example(
            'op.execute("REINDEX INDEX CONCURRENTLY ix_users_name")',
            "REINDEX INDEX CONCURRENTLY ix_users_name;",
            transactional=False,
        ),
        Example(sql="REINDEX SYSTEM app;", transactional=False),
    ),
)
def reindex_not_concurrently(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "reindex" or fact.concurrently or fact.scope == "SYSTEM":
        return None  # REINDEX SYSTEM has no CONCURRENTLY: there is nothing to ask for
    what = " ".join((fact.sql or "REINDEX").split()[:3])
    if not ctx.target.at_least(12):
        return f"`{what}` blocks writes (no CONCURRENTLY before PostgreSQL 12)"
    return f"`{what}` blocks writes while it rebuilds: use CONCURRENTLY"


@rule(
    "DS317",
    "table-rewrite-command",
    "error",
    "locking",
    PG,
    summary="CLUSTER or VACUUM FULL rewrites a table under an ACCESS EXCLUSIVE lock",
    why="Both copy the whole table (and rebuild its indexes) while holding an ACCESS "
    "EXCLUSIVE lock: no reads or writes for as long as the copy takes.",
    instead="Use an online tool that rewrites without the long lock (pg_repack, "
    "pg_squeeze), outside the migrations; plain VACUUM reclaims space for reuse without "
    "blocking.",
    fires=(
        Example('op.execute("CLUSTER users USING users_pkey")', "CLUSTER users USING users_pkey;"),
        Example('op.execute("VACUUM FULL users")', "VACUUM FULL users;", transactional=False),
    ),
    passes=(Example('op.execute("VACUUM users")', "VACUUM users;", transactional=False),),
)
def table_rewrite_command(fact: Fact, ctx: Context) -> str | None:
    if fact.kind not in ("cluster", "vacuum_full"):
        return None
    what = "CLUSTER" if fact.kind == "cluster" else "VACUUM FULL"
    where = _where(fact) if fact.table else "every table it applies to"
    return f"{what} rewrites {where} under an ACCESS EXCLUSIVE lock"


@rule(
    "DS318",
    "detach-partition-not-concurrently",
    "warning",
    "locking",
    PG,
    summary="DETACH PARTITION without CONCURRENTLY",
    why="A plain DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned table: "
    "it waits for every query on any partition and blocks new ones while it waits.",
    instead="`DETACH PARTITION ... CONCURRENTLY` (PostgreSQL 14+) in a migration marked "
    "`transactional = False` (if it is interrupted, finish it with `... FINALIZE`); before "
    "14, run it in a quiet period with a short lock_timeout.",
    versions="all; CONCURRENTLY from 14",
    fires=(
        Example(
            'op.execute("ALTER TABLE events DETACH PARTITION events_2020")',
            "ALTER TABLE events DETACH PARTITION events_2020;",
        ),
    ),
    passes=(
        Example(
            'op.execute("ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY")',
            "ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY;",
            transactional=False,
        ),
    ),
)
def detach_partition_not_concurrently(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "detach_partition" or fact.concurrently or not ctx.existing(fact):
        return None
    detach = f"detach partition {quoted(fact.name)} from {_where(fact)}"
    if not ctx.target.at_least(14):
        return f"{detach} locks the table against reads and writes (no CONCURRENTLY before 14)"
    return f"{detach} locks the table against reads and writes: use CONCURRENTLY"


@rule(
    "DS319",
    "domain-with-check",
    "warning",
    "locking",
    PG,
    summary="a domain is created with a CHECK constraint",
    why="Every later change to a domain's constraint revalidates every column of every "
    "table using the domain, under a lock that blocks their writes; and converting a "
    "column to a domain with constraints rewrites its table.",
    instead="Create the domain without a constraint (or use the base type), and put the "
    "CHECK on the columns, where NOT VALID and VALIDATE CONSTRAINT work per table.",
    fires=(
        Example(
            'op.execute("CREATE DOMAIN positive AS integer CHECK (VALUE > 0)")',
            "CREATE DOMAIN positive AS integer CHECK (VALUE > 0);",
        ),
    ),
    passes=(
        Example(
            'op.execute("CREATE DOMAIN email AS text")',
            "CREATE DOMAIN email AS text;",
        ),
    ),
)
def domain_with_check(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "create_domain" and fact.condition is not None:
        return f"domain {quoted(fact.schema, fact.name)} has CHECK ({fact.condition})"
    return None


@rule(
    "DS320",
    "domain-constraint-not-valid",
    "error",
    "locking",
    PG,
    summary="ALTER DOMAIN ... ADD CONSTRAINT (or SET NOT NULL) without NOT VALID",
    why="The new constraint is checked against every column of every table that uses the "
    "domain, each table locked against writes during its scan.",
    instead="`ALTER DOMAIN ... ADD CONSTRAINT ... CHECK (...) NOT VALID`, then `ALTER "
    "DOMAIN ... VALIDATE CONSTRAINT` in a later migration (it lets writes through); for "
    "NOT NULL, a `CHECK (VALUE IS NOT NULL)` added that way.",
    fires=(
        Example(
            'op.execute("ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0)")',
            "ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0);",
        ),
        Example(
            'op.execute("ALTER DOMAIN positive SET NOT NULL")',
            "ALTER DOMAIN positive SET NOT NULL;",
        ),
    ),
    passes=(
        Example(
            'op.execute("ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0) '
            'NOT VALID")',
            "ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0) NOT VALID;",
        ),
    ),
)
def domain_constraint_not_valid(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "add_domain_constraint" and not fact.not_valid:
        return (
            f"domain {quoted(fact.schema, fact.name)} gets ({fact.condition}): every column "
            "using it is checked under a lock"
        )
    return None


def _outside_blocks_only(fact: Fact) -> str | None:
    """The statement `fact` is, when PostgreSQL refuses to run it in a transaction block."""
    if fact.kind in ("vacuum", "vacuum_full"):
        return "VACUUM"
    if fact.kind == "drop_database":
        return "DROP DATABASE"
    if fact.kind == "cluster" and fact.table is None:
        return "CLUSTER without a table"
    if fact.kind == "reindex" and fact.scope in ("SCHEMA", "DATABASE", "SYSTEM"):
        return f"REINDEX {fact.scope}"
    return None


@rule(
    "DS321",
    "not-in-transaction-block",
    "error",
    "locking",
    PG,
    summary="a statement PostgreSQL cannot run inside a transaction block",
    why="VACUUM, DROP DATABASE, CLUSTER without a table and REINDEX SCHEMA/DATABASE/SYSTEM "
    "refuse to run in a transaction block: a transactional migration fails when it "
    "reaches the statement.",
    instead="Put the statement in a migration marked `transactional = False` "
    "(`-- transactional: false`); better, run maintenance outside the migrations.",
    fires=(
        Example('op.execute("VACUUM users")', "VACUUM users;"),
        Example('op.execute("REINDEX SCHEMA public")', "REINDEX SCHEMA public;"),
    ),
    passes=(Example('op.execute("VACUUM users")', "VACUUM users;", transactional=False),),
)
def not_in_transaction_block(fact: Fact, ctx: Context) -> str | None:
    what = _outside_blocks_only(fact)
    if what is not None and ctx.migration.transactional:
        return f"{what} cannot run inside a transaction block: the migration fails on it"
    return None


@rule(
    "DS322",
    "concurrent-index-not-retryable",
    "warning",
    "locking",
    PG,
    summary="CREATE INDEX CONCURRENTLY with nothing to clear a failed build first",
    why="A concurrent build that fails (a duplicate for a unique index, a deadlock, a "
    "timeout, a cancel) leaves an INVALID index under the name: still maintained on every "
    "write, never used by reads. The retry (dbshift resumes a non-transactional migration "
    "at the statement that failed) then fails on the existing name, and `IF NOT EXISTS` "
    "would keep the invalid index silently.",
    instead="Drop a leftover invalid index right before the build: `op.drop_invalid_index("
    "name)` (what `make --safe` writes), or `DROP INDEX CONCURRENTLY IF EXISTS name` in SQL.",
    fires=(
        Example(
            'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
            "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
            transactional=False,
        ),
    ),
    passes=(
        Example(
            'op.drop_invalid_index("ix_users_email")\n'
            'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
            "DROP INDEX CONCURRENTLY IF EXISTS ix_users_email;\n"
            "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
            transactional=False,
        ),
    ),
)
def concurrent_index_not_retryable(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "create_index" or not fact.concurrently or ctx.migration.transactional:
        return None  # in a transaction it fails outright (DS303)
    cleared = any(e.kind == "drop_index" and e.name == fact.name for e in ctx.earlier)
    if fact.name is not None and not cleared:
        return f"a failed build of {quoted(fact.name)} leaves an invalid index the retry trips on"
    return None


@migration_rule(
    "DS323",
    "no-statement-timeout",
    "info",
    "locking",
    PG,
    summary="a blocking change with no statement_timeout",
    why="A statement that runs longer than expected (a rewrite, a validation scan on a "
    "table bigger than in testing) holds its lock all the while: with a statement_timeout "
    "it fails and rolls back instead of stalling the application for an unknown time.",
    instead="Set `statement_timeout` in dbshift.toml (this rule is then off), or in the "
    'migration\'s header (`statement_timeout = "30s"`, `-- statement_timeout: 30s`), or '
    "`SET statement_timeout = '30s'` first. Concurrent builds and VALIDATE CONSTRAINT "
    "block nothing and are not counted: a timeout would only cut them short.",
    fires=(
        Example(
            'op.alter_column("users", "score", type_=sa.BigInteger)',
            "ALTER TABLE users ALTER COLUMN score TYPE bigint;",
        ),
    ),
    passes=(
        Example(
            "op.execute(\"SET statement_timeout = '30s'\")\n"
            'op.alter_column("users", "score", type_=sa.BigInteger)',
            "SET statement_timeout = '30s';\nALTER TABLE users ALTER COLUMN score TYPE bigint;",
        ),
        Example(
            'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
            "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
            transactional=False,
        ),
    ),
)
def no_statement_timeout(migration: MigrationFacts, target: Target) -> list[tuple[int, str]]:
    if migration.statement_timeout is not None:
        return []
    created: set[str | None] = set()
    for fact, line in migration.facts:
        if fact.kind == "set" and fact.setting == "statement_timeout":
            return []
        if fact.kind == "create_table":
            created.add(fact.key)
        elif _blocks(fact) and (fact.key is None or fact.key not in created):
            return [(line, f"{fact.kind.replace('_', ' ')} runs with no statement_timeout set")]
    return []


def _blocks(fact: Fact) -> bool:
    """Whether `fact` holds a lock that blocks the application while it runs."""
    if fact.concurrently or fact.kind == "validate_constraint":
        return False
    return fact.kind in PG_TABLE_LOCKING
