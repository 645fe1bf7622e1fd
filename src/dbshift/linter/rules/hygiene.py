"""Habits that cost later: types that overflow, names the server cuts, migrations that
cannot be reverted or checked."""

from __future__ import annotations

from dbshift.linter.facts import ColumnFact, Fact, transaction_effect
from dbshift.linter.model import ALL, PG, SERVERS, Context, Example, MigrationFacts, Target
from dbshift.linter.rules import migration_rule, rule
from dbshift.ops.base import quoted

_JSONB = "from sqlalchemy.dialects.postgresql import JSONB\n"


def _declared(fact: Fact) -> list[ColumnFact]:
    """Columns a fact declares: those of a new table or an added column."""
    return list(fact.columns) if fact.kind in ("create_table", "add_column") else []


@rule(
    "DS601",
    "integer-primary-key",
    "warning",
    "hygiene",
    SERVERS,
    summary="an integer primary key that will overflow",
    why="A 32-bit key stops at 2,147,483,647 rows ever inserted; changing it to bigint "
    "later rewrites the table and every table referencing it. (SQLite's INTEGER PRIMARY "
    "KEY is already 64-bit.)",
    instead="Use `sa.BigInteger` / `BIGINT` (`bigserial`, `BIGINT AUTO_INCREMENT`) for "
    "generated primary keys.",
    fires=(
        Example(
            'op.create_table("tmp", sa.Column("id", sa.Integer, primary_key=True))',
            "CREATE TABLE tmp (id INTEGER PRIMARY KEY);",
        ),
    ),
    passes=(
        Example(
            'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True))',
            "CREATE TABLE tmp (id BIGINT PRIMARY KEY);",
        ),
    ),
)
def integer_primary_key(fact: Fact, ctx: Context) -> str | None:
    for column in _declared(fact):
        if column.primary_key and column.type.name in ("integer", "smallint"):
            where = quoted(fact.schema, fact.table, column.name)
            return f"primary key {where} is {column.type}: use bigint"
    return None


@rule(
    "DS602",
    "timestamp-without-time-zone",
    "warning",
    "hygiene",
    PG,
    summary="`timestamp` without time zone on PostgreSQL",
    why="`timestamp` stores wall-clock values with no zone: the same instant written from "
    "two time zones (or across a DST change) reads back as two different values. "
    "`timestamptz` stores instants.",
    instead="Use `sa.DateTime(timezone=True)` / `timestamptz`.",
    fires=(
        Example(
            'op.add_column("users", sa.Column("seen_at", sa.DateTime))',
            "ALTER TABLE users ADD COLUMN seen_at TIMESTAMP;",
        ),
        Example(
            'op.add_column("users", sa.Column("visits", sa.ARRAY(sa.DateTime)))',
            "ALTER TABLE users ADD COLUMN visits TIMESTAMP[];",
        ),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("seen_at", sa.DateTime(timezone=True)))',
            "ALTER TABLE users ADD COLUMN seen_at TIMESTAMPTZ;",
        ),
    ),
)
def timestamp_without_time_zone(fact: Fact, ctx: Context) -> str | None:
    for column in _declared(fact):
        if column.type.name == "timestamp":
            return f"{quoted(fact.schema, fact.table, column.name)} is timestamp without time zone"
    if (
        fact.kind == "alter_type"
        and fact.new_type is not None
        and fact.new_type.name == "timestamp"
    ):
        return f"{quoted(fact.schema, fact.table, fact.column)} becomes timestamp without time zone"
    return None


_LIMITS = {"postgresql": 63, "mysql": 64, "mariadb": 64}


@rule(
    "DS603",
    "identifier-too-long",
    "error",
    "hygiene",
    SERVERS,
    summary="an identifier longer than the server allows",
    why="PostgreSQL silently cuts names to 63 bytes (two long names can then collide, and "
    "the name in the database is not the one in the code); MySQL refuses names over 64 "
    "characters.",
    instead="Use a shorter name.",
    versions="PostgreSQL: 63 bytes; MySQL/MariaDB: 64 characters",
    fires=(
        Example(
            'op.create_index("ix_' + "x" * 70 + '", "users", ["email"])',
            "CREATE INDEX ix_" + "x" * 70 + " ON users (email);",
        ),
    ),
    passes=(
        Example(
            'op.create_index("ix_' + "x" * 50 + '", "users", ["email"])',
            "CREATE INDEX ix_" + "x" * 50 + " ON users (email);",
        ),
    ),
)
def identifier_too_long(fact: Fact, ctx: Context) -> str | None:
    limit = _LIMITS[ctx.target.backend]
    names = [fact.table, fact.column, fact.name, fact.new_name] + [c.name for c in _declared(fact)]
    for name in names:
        if name is None:
            continue
        size = len(name.encode()) if ctx.target.backend == "postgresql" else len(name)
        if size > limit:
            return f"name {quoted(name[:20] + '...')} is {size} long (limit {limit})"
    return None


@migration_rule(
    "DS604",
    "no-downgrade",
    "info",
    "hygiene",
    ALL,
    summary="a migration without a downgrade that cannot be derived",
    why="dbshift derives the downgrade of `op` calls, but raw SQL and Python code cannot be "
    "reversed automatically: `dbshift downgrade` past this migration fails.",
    instead="Write `downgrade(op)` or a `-- dbshift:down` section (it may raise, "
    "explicitly, when reverting is really impossible).",
    fires=(
        Example(
            'op.execute("UPDATE users SET score = 0 WHERE score IS NULL")',
            "UPDATE users SET score = 0 WHERE score IS NULL;",
            downgrade=False,
        ),
    ),
    passes=(
        Example('op.add_column("users", sa.Column("age", sa.Integer))', downgrade=False),
        Example(
            'op.execute("UPDATE users SET score = 0 WHERE score IS NULL")',
            "UPDATE users SET score = 0 WHERE score IS NULL;",
        ),
    ),
)
def no_downgrade(migration: MigrationFacts, target: Target) -> list[tuple[int, str]]:
    if migration.reversible:
        return []
    return [(1, f"{migration.id} has no downgrade, and its changes cannot be reversed")]


@migration_rule(
    "DS605",
    "schema-and-data",
    "warning",
    "hygiene",
    ALL,
    summary="schema and data changes mixed in one transactional migration",
    why="Data changes hold row locks for as long as the schema changes' locks are held, "
    "and a backfill that fails rolls the schema back with it. On MySQL each DDL commits "
    "on its own, so a failure leaves the migration half-applied.",
    instead="Put the data change in its own migration, after (or before) the schema change.",
    fires=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer))\n'
            'op.execute("UPDATE users SET age = 0 WHERE age IS NULL")',
            "ALTER TABLE users ADD COLUMN age INTEGER;\nUPDATE users SET age = 0 WHERE age IS NULL;",
        ),
    ),
    passes=(
        Example(
            'op.execute("UPDATE users SET score = 0 WHERE score IS NULL")',
            "UPDATE users SET score = 0 WHERE score IS NULL;",
        ),
    ),
)
def schema_and_data(migration: MigrationFacts, target: Target) -> list[tuple[int, str]]:
    if not migration.transactional:
        return []
    created = {f.key for f, _ in migration.facts if f.kind == "create_table"}
    schema = [line for f, line in migration.facts if f.changes_schema and f.kind != "create_table"]
    data = [
        (f, line)
        for f, line in migration.facts
        if f.changes_data and (f.key is None or f.key not in created)
    ]
    if schema and data:
        fact, line = data[0]
        return [(line, f"{fact.kind.replace('_', ' ')} in the same transaction as schema changes")]
    return []


@rule(
    "DS606",
    "unparsable-sql",
    "error",
    "hygiene",
    ALL,
    summary="raw SQL that cannot be parsed, so cannot be checked",
    why="The linter reads raw SQL to find the same problems as in `op` calls; a statement "
    "it cannot parse is not checked at all (and may be a typo the server rejects).",
    instead="Fix the statement, or suppress this finding on it when the server accepts "
    "syntax the parser does not know.",
    fires=(Example('op.execute("CREATE TABLE (")', "CREATE TABLE (;"),),
    passes=(
        Example('op.execute("CREATE TABLE tmp (id BIGINT)")', "CREATE TABLE tmp (id BIGINT);"),
        Example(
            sql='DROP INDEX "ix_users_name", ix_users_email;\n'
            "CLUSTER users USING users_pkey;\n"
            "ALTER TABLE users ADD COLUMN flags bit varying(8);\n"
            "INSERT INTO k (a.x, a.y) VALUES (1, 2);",
            only=frozenset({"postgresql"}),
        ),
    ),
)
def unparsable_sql(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "unparsable":
        return f"cannot parse SQL: {fact.problem}"
    return None


@rule(
    "DS607",
    "unknown-sql",
    "info",
    "hygiene",
    ALL,
    summary="a raw SQL statement the linter does not understand",
    why="The statement parses, but no rule knows what it locks or changes, so it is not checked.",
    instead="Review it by hand; suppress the finding once reviewed.",
    fires=(Example('op.execute("LISTEN jobs")', "LISTEN jobs;"),),
    passes=(Example('op.execute("SELECT 1")', "SELECT 1;"),),
)
def unknown_sql(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "unknown_sql":
        return f"not checked: {fact.problem}"
    return None


@rule(
    "DS608",
    "python-code",
    "info",
    "hygiene",
    ALL,
    summary="Python code (`op.run`) that the linter cannot see into",
    why="A function run by `op.run(fn)` may do anything with the connection; no rule can check it.",
    instead="Review it by hand; prefer `op` calls or `op.execute` with SQL the linter reads.",
    fires=(Example("op.run(lambda connection: None)"),),
    passes=(Example('op.execute("SELECT 1")'),),
)
def python_code(fact: Fact, ctx: Context) -> str | None:
    if fact.kind == "run_python":
        return f"{fact.name}() is not checked"
    return None


@rule(
    "DS609",
    "unused-suppression",
    "warning",
    "hygiene",
    ALL,
    summary="a suppression comment for a finding that does not occur",
    why="A stale `dbshift: ignore` hides nothing today but will hide a real finding when "
    "the line changes; a mistyped code suppresses nothing.",
    instead="Remove the comment, or fix the code in it.",
    fires=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer))  # dbshift: ignore[DS101]',
            "-- dbshift:ignore DS101\nALTER TABLE users ADD COLUMN age INTEGER;",
        ),
    ),
    passes=(
        Example(
            'op.drop_table("users")  # dbshift: ignore[DS101]',
            "-- dbshift:ignore DS101\nDROP TABLE users;",
        ),
    ),
)
def unused_suppression(fact: Fact, ctx: Context) -> str | None:
    return None  # reported by the engine, which knows what was suppressed


@rule(
    "DS610",
    "json-not-jsonb",
    "info",
    "hygiene",
    PG,
    summary="`json` instead of `jsonb` on PostgreSQL",
    why="`json` keeps the text as written and re-parses it on every access; it has no "
    "equality operator, so no index, no DISTINCT, no GROUP BY.",
    instead="Use `jsonb` (`sqlalchemy.dialects.postgresql.JSONB`).",
    fires=(
        Example(
            'op.add_column("users", sa.Column("prefs", sa.JSON))',
            "ALTER TABLE users ADD COLUMN prefs JSON;",
        ),
    ),
    passes=(
        Example(
            _JSONB + 'op.add_column("users", sa.Column("prefs", JSONB))',
            "ALTER TABLE users ADD COLUMN prefs JSONB;",
        ),
    ),
)
def json_not_jsonb(fact: Fact, ctx: Context) -> str | None:
    for column in _declared(fact):
        if column.type.name == "json":
            return f"{quoted(fact.schema, fact.table, column.name)} is json: prefer jsonb"
    return None


@rule(
    "DS611",
    "transaction-control",
    "error",
    "hygiene",
    ALL,
    summary="BEGIN, COMMIT or ROLLBACK that does not do what it says",
    why="dbshift runs a transactional migration in one transaction with its history row. "
    "A COMMIT in it commits the first half early: when a later statement fails, that half "
    "stays, no history row is written, and every re-run fails on what already exists. "
    "`dbshift upgrade` refuses such a migration before running anything. A "
    "non-transactional migration runs statement by statement, each committed with its "
    "progress record: a BEGIN there groups nothing (the statements after it commit one by "
    "one, whether a COMMIT follows or not, and a second BEGIN nests nothing), a ROLLBACK "
    "undoes nothing, and on SQLite a COMMIT or ROLLBACK fails, no transaction being active.",
    instead="Statements that must commit together belong in a transactional migration "
    "(the default) without BEGIN or COMMIT; dbshift commits it. Remove the statement.",
    fires=(
        Example(
            'op.execute("UPDATE users SET score = 0 WHERE score IS NULL")\nop.execute("COMMIT")',
            "UPDATE users SET score = 0 WHERE score IS NULL;\nCOMMIT;",
        ),
        Example(
            'op.execute("BEGIN")\nop.execute("UPDATE users SET score = 0 WHERE score IS NULL")',
            "BEGIN;\nUPDATE users SET score = 0 WHERE score IS NULL;",
            transactional=False,
        ),
        Example(
            'op.execute("UPDATE users SET score = 0 WHERE score IS NULL")\nop.execute("ROLLBACK")',
            "UPDATE users SET score = 0 WHERE score IS NULL;\nROLLBACK;",
            transactional=False,
        ),
        Example(
            'op.execute("UPDATE users SET score = 0 WHERE score IS NULL")\nop.execute("COMMIT")',
            "UPDATE users SET score = 0 WHERE score IS NULL;\nCOMMIT;",
            transactional=False,
            only=frozenset({"sqlite"}),
        ),
    ),
    passes=(
        Example(
            'op.execute("UPDATE users SET score = 0 WHERE score IS NULL")\nop.execute("COMMIT")',
            "UPDATE users SET score = 0 WHERE score IS NULL;\nCOMMIT;",
            transactional=False,
            only=frozenset({"postgresql", "mysql", "mariadb"}),
        ),
        Example(
            'op.execute("SAVEPOINT s")\nop.execute("ROLLBACK TO SAVEPOINT s")',
            "SAVEPOINT s;\nROLLBACK TO SAVEPOINT s;",
        ),
    ),
)
def transaction_control(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "transaction_control":
        return None
    if ctx.migration.transactional:
        return f"`{fact.sql}` ends or starts a transaction inside a transactional migration"
    effect = transaction_effect(fact)
    if effect == "begin":
        return f"`{fact.sql}` groups nothing: each statement after it commits on its own"
    if ctx.target.backend == "sqlite":  # it refuses COMMIT/ROLLBACK outside a transaction
        return f"`{fact.sql}` fails: each statement before it is committed, none is active"
    if effect == "rollback":
        return f"`{fact.sql}` undoes nothing: each statement before it is already committed"
    return None  # a COMMIT there is redundant (PostgreSQL warns), not harmful
