"""Habits that cost later: types that overflow, names the server cuts, migrations that
cannot be reverted or checked."""

from __future__ import annotations

from dbshift.dialects import backend_for
from dbshift.facts import INTEGER_RANK, ColumnFact, Fact, TypeInfo, transaction_effect
from dbshift.linter.model import (
    ALL,
    MYSQL,
    PG,
    SERVERS,
    Context,
    Example,
    MigrationFacts,
    Target,
)
from dbshift.linter.rules.registry import migration_rule, rule
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
    limits = backend_for(ctx.target.backend).limits  # the server's, as `make` checks them
    limit = limits.identifier_length
    if limit is None:
        return None
    names = [fact.table, fact.column, fact.name, fact.new_name] + [c.name for c in _declared(fact)]
    for name in names:
        if name is None:
            continue
        size = len(name.encode()) if limits.identifier_in_bytes else len(name)
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
    fires=(
        Example('op.execute("CREATE TABLE (")', "CREATE TABLE (;"),
        Example(  # what only psql understands, as `upgrade` refuses it
            'op.execute("\\\\set ON_ERROR_STOP on")',
            "\\set ON_ERROR_STOP on\nUPDATE users SET score = 0 WHERE id = 1;",
            only=frozenset({"postgresql"}),
        ),
    ),
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
    summary="BEGIN, COMMIT or ROLLBACK in a migration, where dbshift owns the transactions",
    why="dbshift runs a transactional migration in one transaction with its history row. "
    "A COMMIT in it commits the first half early: when a later statement fails, that half "
    "stays, no history row is written, and every re-run fails on what already exists. A "
    "non-transactional migration runs statement by statement, each in a transaction of "
    "its own with its progress record: a BEGIN there groups nothing (SQLite refuses it), "
    "a COMMIT commits before the record, a ROLLBACK undoes nothing. `dbshift upgrade` "
    "refuses either before running anything.",
    instead="Remove the statement. Statements that must commit together belong in a "
    "transactional migration of their own (the default; dbshift commits it), those that "
    "cannot run in a transaction (CONCURRENTLY, VACUUM) in a non-transactional one.",
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
        ),
    ),
    passes=(
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
    if effect == "rollback":
        return f"`{fact.sql}` undoes nothing: each statement before it is already committed"
    return f"`{fact.sql}` commits dbshift's transaction before the statement's progress record"


# -- column types that cost later (PostgreSQL's text, bigint, identity) --------------------


def _changed_types(fact: Fact) -> list[tuple[str | None, TypeInfo]]:
    """(column, type) for every column a fact declares or changes the type of."""
    found: list[tuple[str | None, TypeInfo]] = [(c.name, c.type) for c in _declared(fact)]
    if fact.kind == "alter_type" and fact.new_type is not None:
        found.append((fact.column, fact.new_type))
    return found


@rule(
    "DS612",
    "char-column",
    "warning",
    "hygiene",
    PG,
    summary="a `char(n)` column on PostgreSQL",
    why="`char(n)` pads every value with spaces to n characters, stores the padding, and "
    "ignores trailing spaces in comparisons (`'a ' = 'a'`), so what is read back is not "
    "what was written. It is no faster than `text` on PostgreSQL. (A warning: unlike "
    "`varchar(n)`, the type changes the values.)",
    instead="Use `sa.Text` / `text`, with `CHECK (length(col) = n)` if the length matters.",
    fires=(
        Example(
            'op.add_column("users", sa.Column("country", sa.CHAR(2)))',
            "ALTER TABLE users ADD COLUMN country CHAR(2);",
        ),
        Example(
            'op.alter_column("users", "name", type_=sa.CHAR(100))',
            "ALTER TABLE users ALTER COLUMN name TYPE CHAR(100);",
        ),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("country", sa.Text))',
            "ALTER TABLE users ADD COLUMN country TEXT CHECK (length(country) = 2);",
        ),
    ),
)
def char_column(fact: Fact, ctx: Context) -> str | None:
    for column, type_ in _changed_types(fact):
        if type_.name == "char":
            return f"{quoted(fact.schema, fact.table, column)} is {type_}: use text"
    return None


@rule(
    "DS613",
    "varchar-length",
    "info",
    "hygiene",
    PG,
    summary="a `varchar(n)` column on PostgreSQL, where `text` with a check does the same",
    why="On PostgreSQL `varchar(n)` is `text` with a length check built into the type: "
    "the same storage, the same speed. Built into the type, the limit can only change "
    "with `ALTER COLUMN ... TYPE`, under an ACCESS EXCLUSIVE lock (and a full rewrite "
    "when it shrinks); a `CHECK` can be replaced `NOT VALID` and validated while the "
    "application runs. (Info: `sa.String(n)` is the usual idiom and nothing is wrong "
    "today; MySQL needs the length, so the rule is PostgreSQL's only.)",
    instead="Use `sa.Text` / `text`, with `CHECK (length(col) <= n)` when the limit is a "
    "rule of the data.",
    fires=(
        Example(
            'op.add_column("users", sa.Column("nick", sa.String(30)))',
            "ALTER TABLE users ADD COLUMN nick VARCHAR(30);",
        ),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("nick", sa.Text))',
            "ALTER TABLE users ADD COLUMN nick TEXT CHECK (length(nick) <= 30);",
        ),
        Example(
            'op.add_column("users", sa.Column("nick", sa.String()))',
            "ALTER TABLE users ADD COLUMN nick VARCHAR;",
        ),
    ),
)
def varchar_length(fact: Fact, ctx: Context) -> str | None:
    for column, type_ in _changed_types(fact):
        if type_.name == "varchar" and type_.length is not None:
            where = quoted(fact.schema, fact.table, column)
            return (
                f"{where} is {type_}: text with CHECK (length(...) <= {type_.length}) does the same"
            )
    return None


_SMALL_INTEGERS = ("integer", "smallint")
_MAXIMUM = {"integer": "2,147,483,647", "smallint": "32,767"}


@rule(
    "DS614",
    "integer-sequence",
    "warning",
    "hygiene",
    SERVERS,
    summary="a 32- or 16-bit column fed by a sequence, outside the primary key",
    why="A serial, identity or AUTO_INCREMENT column counts up on every insert (and on "
    "every rolled-back one) and never reuses a value: as `integer` it fails after "
    "2,147,483,647, as `smallint` after 32,767, and widening it rewrites the table. "
    "DS601 covers generated primary keys; this rule the other generated columns.",
    instead="Use `sa.BigInteger` / `BIGINT` for generated columns.",
    fires=(
        Example(
            'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True), '
            'sa.Column("seq", sa.Integer, sa.Identity()))',
            "CREATE TABLE tmp (id BIGINT PRIMARY KEY, seq INTEGER GENERATED BY DEFAULT AS "
            "IDENTITY);",
            mysql_sql="CREATE TABLE tmp (id BIGINT PRIMARY KEY, seq INT AUTO_INCREMENT UNIQUE);",
        ),
        Example(
            sql="ALTER TABLE users ADD COLUMN ticket SERIAL;",
            only=PG,
        ),
    ),
    passes=(
        Example(
            'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True), '
            'sa.Column("seq", sa.BigInteger, sa.Identity()))',
            "CREATE TABLE tmp (id BIGINT PRIMARY KEY, seq BIGINT GENERATED BY DEFAULT AS "
            "IDENTITY);",
            mysql_sql="CREATE TABLE tmp (id BIGINT PRIMARY KEY, seq BIGINT AUTO_INCREMENT UNIQUE);",
        ),
    ),
)
def integer_sequence(fact: Fact, ctx: Context) -> str | None:
    for column in _declared(fact):
        if column.generated and not column.primary_key and column.type.name in _SMALL_INTEGERS:
            where = quoted(fact.schema, fact.table, column.name)
            top = _MAXIMUM[column.type.name]
            return f"{where} is a generated {column.type.name}: it stops at {top}; use bigint"
    return None


@rule(
    "DS620",
    "integer-reference",
    "warning",
    "hygiene",
    SERVERS,
    summary="a foreign key column narrower than the key it refers to",
    why="An `integer` column referring to a `bigint` key can hold only the first "
    "2,147,483,647 ids: once the referred table's ids pass that, inserting a row that "
    "refers to a new one fails, and widening the column then rewrites the table. "
    "(SQLite's integers are all 64-bit.)",
    instead="Give the column the referred key's type (`sa.BigInteger` for a bigint key).",
    fires=(
        Example(
            'op.add_column("events", sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")))',
            "ALTER TABLE events ADD COLUMN user_id INTEGER REFERENCES users (id);",
            mysql_sql="ALTER TABLE events ADD COLUMN user_id INT, "
            "ADD FOREIGN KEY (user_id) REFERENCES users (id);",
        ),
        Example(
            'op.create_table("visits", sa.Column("id", sa.BigInteger, primary_key=True), '
            'sa.Column("user_id", sa.SmallInteger, sa.ForeignKey("users.id")))',
            "CREATE TABLE visits (id BIGINT PRIMARY KEY, user_id SMALLINT, "
            "FOREIGN KEY (user_id) REFERENCES users);",
        ),
    ),
    passes=(
        Example(
            'op.add_column("events", sa.Column("user_id", sa.BigInteger, '
            'sa.ForeignKey("users.id")))',
            "ALTER TABLE events ADD COLUMN user_id BIGINT REFERENCES users (id);",
            mysql_sql="ALTER TABLE events ADD COLUMN user_id BIGINT, "
            "ADD FOREIGN KEY (user_id) REFERENCES users (id);",
        ),
    ),
)
def integer_reference(fact: Fact, ctx: Context) -> str | None:
    own = {c.name: c for c in _declared(fact)}
    for ref in fact.references:
        referred = own if ref.key == fact.key and fact.kind == "create_table" else None
        referred = referred or ctx.state.tables.get(ref.key, {})
        targets = ref.ref_columns or tuple(c.name for c in referred.values() if c.primary_key)
        for name, target in zip(ref.columns, targets, strict=False):
            column = own.get(name) or ctx.state.tables.get(fact.key or "", {}).get(name)
            key = referred.get(target)
            if column is None or key is None:
                continue
            narrow = INTEGER_RANK.get(column.type.name, 0)
            wide = INTEGER_RANK.get(key.type.name, 0)
            if 0 < narrow < wide:
                where = quoted(fact.schema, fact.table, name)
                return (
                    f"{where} is {column.type.name} and refers to {key.type.name} "
                    f"{quoted(ref.schema, ref.table, target)}: it stops at "
                    f"{_MAXIMUM[column.type.name]}"
                )
    return None


@rule(
    "DS615",
    "smallint-column",
    "info",
    "hygiene",
    SERVERS,
    summary="a `smallint` column, which stops at 32,767",
    why="Two bytes saved per row buy a limit that counters, quantities and foreign keys "
    "to growing tables reach sooner than expected; widening the column later rewrites "
    "the table. (Info: a small closed range is a fine use; `TINYINT(1)`, MySQL's "
    "boolean, is not reported.)",
    instead="Use `sa.Integer` or `sa.BigInteger`, with a `CHECK` if the range is a rule.",
    fires=(
        Example(
            'op.add_column("users", sa.Column("logins", sa.SmallInteger))',
            "ALTER TABLE users ADD COLUMN logins SMALLINT;",
        ),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("logins", sa.BigInteger))',
            "ALTER TABLE users ADD COLUMN logins BIGINT;",
        ),
        Example(
            sql="ALTER TABLE users ADD COLUMN active TINYINT(1);",
            only=MYSQL,
        ),
    ),
)
def smallint_column(fact: Fact, ctx: Context) -> str | None:
    for column, type_ in _changed_types(fact):
        primary = any(c.primary_key or c.generated for c in _declared(fact) if c.name == column)
        if type_.name == "smallint" and type_.length != 1 and not primary:
            tiny = " (TINYINT: 127)" if ctx.target.backend in MYSQL else ""
            where = quoted(fact.schema, fact.table, column)
            return f"{where} is smallint: it stops at 32,767{tiny}"
    return None


@rule(
    "DS616",
    "serial-column",
    "info",
    "hygiene",
    PG,
    versions="PostgreSQL 10 and later (identity columns)",
    summary="a `serial` column where an identity column exists",
    why="A serial is an integer column with a default taken from a sequence the column "
    "merely owns: the sequence needs its own grants, `INSERT` can write any value past "
    "it, and copying the table (`CREATE TABLE ... (LIKE ...)`) shares the sequence. An "
    "identity column (SQL standard, PostgreSQL 10+) is one object. (Info: SQLAlchemy "
    "writes `SERIAL` for an integer primary key unless told otherwise.)",
    instead='Write `sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)` / '
    "`BIGINT GENERATED BY DEFAULT AS IDENTITY` (`GENERATED ALWAYS` refuses explicit values).",
    fires=(
        Example(
            'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True))',
            "CREATE TABLE tmp (id BIGSERIAL PRIMARY KEY);",
        ),
    ),
    passes=(
        Example(
            'op.create_table("tmp", sa.Column("id", sa.BigInteger, sa.Identity(), '
            "primary_key=True))",
            "CREATE TABLE tmp (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);",
        ),
        Example(
            'op.create_table("tmp", sa.Column("id", sa.BigInteger, primary_key=True))',
            "CREATE TABLE tmp (id BIGSERIAL PRIMARY KEY);",
            version=(9, 6),
        ),
    ),
)
def serial_column(fact: Fact, ctx: Context) -> str | None:
    if not ctx.target.at_least(10):
        return None
    declared = _declared(fact)
    # SQLAlchemy makes a SERIAL of a single-column integer primary key only
    composite = fact.sql is None and sum(c.primary_key for c in declared) > 1
    for column in declared:
        integer = column.type.name in (*_SMALL_INTEGERS, "bigint")
        if column.generated and not column.identity and integer and not composite:
            where = quoted(fact.schema, fact.table, column.name)
            return f"{where} is a serial: use an identity column"
    return None


# -- values and names -------------------------------------------------------------------------


@rule(
    "DS617",
    "enum-value-order",
    "warning",
    "hygiene",
    PG,
    summary="an enum value appended to a type whose values are in alphabetical order",
    why="`ALTER TYPE ... ADD VALUE` without BEFORE or AFTER puts the value last, and "
    "enum values compare in declaration order: `ORDER BY`, `<` and `max()` use it. An "
    "enum of three or more values kept in alphabetical order shows that order is "
    "meant; a value appended out of it sorts last. (Fewer than three values, or values "
    "in no such order, say nothing about intent, and then the rule stays quiet: "
    "squawk's require-enum-value-ordering asks for a position on every ADD VALUE.)",
    instead="Say where it goes: `ADD VALUE 'x' BEFORE 'y'` / `op.add_enum_value(name, "
    "value, before=...)`, or suppress the finding when last is what is meant.",
    fires=(
        Example(
            'op.create_enum("level", ["debug", "info", "warning"])\n'
            'op.add_enum_value("level", "error")',
            "CREATE TYPE level AS ENUM ('debug', 'info', 'warning');\n"
            "ALTER TYPE level ADD VALUE 'error';",
        ),
    ),
    passes=(
        Example(
            'op.create_enum("level", ["debug", "info", "warning"])\n'
            'op.add_enum_value("level", "error", before="info")',
            "CREATE TYPE level AS ENUM ('debug', 'info', 'warning');\n"
            "ALTER TYPE level ADD VALUE 'error' AFTER 'debug';",
        ),
        Example(
            'op.create_enum("level", ["debug", "info", "warning"])\n'
            'op.add_enum_value("level", "zzz")',
            "CREATE TYPE level AS ENUM ('debug', 'info', 'warning');\n"
            "ALTER TYPE level ADD VALUE 'zzz';",
        ),
        Example('op.add_enum_value("mood", "angry")', "ALTER TYPE mood ADD VALUE 'angry';"),
    ),
)
def enum_value_order(fact: Fact, ctx: Context) -> str | None:
    if fact.kind != "add_enum_value" or fact.position is not None or not fact.values:
        return None
    values = ctx.state.enums.get(fact.name or "", ())
    value = fact.values[0]
    ordered = len(values) >= 3 and list(values) == sorted(set(values))
    if not ordered or value in values or value > values[-1]:
        return None
    successor = next(v for v in values if v > value)
    return (
        f"{quoted(fact.schema, fact.name)} lists its values in alphabetical order, and "
        f"{value!r} is appended after {values[-1]!r}: ADD VALUE {value!r} BEFORE {successor!r}"
    )


@rule(
    "DS618",
    "duplicate-assignment",
    "warning",
    "hygiene",
    ALL,
    summary="an UPDATE (or an INSERT's column list, or its ON CONFLICT SET) that names a "
    "column twice",
    why="PostgreSQL refuses the statement (`multiple assignments to same column`), so the "
    "migration fails when it runs; MySQL, MariaDB and SQLite apply both, left to right, "
    "so one assignment is dead, and usually a typo for another column. An INSERT that "
    "lists a column twice, or an upsert's `DO UPDATE SET` that assigns one twice, is "
    "refused by the servers that have them.",
    instead="Name each column once.",
    fires=(
        Example(
            'op.execute("UPDATE users SET score = 0, score = 1 WHERE score IS NULL")',
            "UPDATE users SET score = 0, score = 1 WHERE score IS NULL;",
        ),
        Example(
            sql="UPDATE users SET (score, name) = (0, 'x'), SCORE = 1 WHERE score IS NULL;",
            only=PG,
        ),
        Example(sql="INSERT INTO users (id, email, email) VALUES (1, 'a', 'b');"),
        Example(
            sql="INSERT INTO users (id, email) VALUES (1, 'a') "
            "ON CONFLICT (id) DO UPDATE SET score = 1, score = 2;",
            only=PG,
        ),
    ),
    passes=(
        Example(
            "op.execute(\"UPDATE users SET score = 0, name = 'x' WHERE score IS NULL\")",
            "UPDATE users SET score = 0, name = 'x' WHERE score IS NULL;",
        ),
        Example(
            sql="INSERT INTO users (id, email) VALUES (1, 'a') "
            "ON CONFLICT (id) DO UPDATE SET email = excluded.email;",
            only=PG,
        ),
    ),
)
def duplicate_assignment(fact: Fact, ctx: Context) -> str | None:
    table = quoted(fact.schema, fact.table)
    if fact.kind == "update" and (twice := _repeated(fact.assigned)):
        return f"UPDATE {table} assigns {quoted(twice)} twice"
    if fact.kind == "insert" and (twice := _repeated(fact.inserted)):
        return f"INSERT INTO {table} lists {quoted(twice)} twice"
    if fact.kind == "insert" and (twice := _repeated(fact.assigned)):
        return f"the upsert into {table} assigns {quoted(twice)} twice"
    return None


def _repeated(names: tuple[str, ...]) -> str | None:
    """The first name that comes a second time."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


#: facts that name a table (or, for enum types, a type) the server looks up by name
_ENUM_KINDS = frozenset({"create_enum", "add_enum_value", "set_enum_values", "drop_enum"})


@rule(
    "DS619",
    "require-schema",
    "warning",
    "hygiene",
    PG,
    opt_in=True,
    summary="a table or type named without its schema (opt-in)",
    why="An unqualified name is looked up through `search_path`, which the role, the "
    "database, a connection pooler or a `SET` in an earlier statement can change: the "
    "same migration may then create or alter a table in another schema. Projects that "
    "use several schemas may want every name qualified; most projects do not, so the "
    "rule is off until `[lint] enable` lists it (as squawk's require-table-schema is "
    "opt-in).",
    instead='Name the schema: `op.create_table(..., schema="public")` / `public.users`.',
    fires=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer))',
            "ALTER TABLE users ADD COLUMN age INTEGER;",
        ),
        Example(
            'op.create_enum("colour", ["red", "blue"])',
            "CREATE TYPE colour AS ENUM ('red', 'blue');",
        ),
    ),
    passes=(
        Example(
            'op.add_column("users", sa.Column("age", sa.Integer), schema="public")',
            "ALTER TABLE public.users ADD COLUMN age INTEGER;",
        ),
        Example(
            'op.create_enum("colour", ["red", "blue"], schema="public")',
            "CREATE TYPE public.colour AS ENUM ('red', 'blue');",
        ),
    ),
)
def require_schema(fact: Fact, ctx: Context) -> str | None:
    if fact.schema is not None:
        return None
    if fact.kind in _ENUM_KINDS and fact.name:
        return f"type {quoted(fact.name)} is not schema-qualified: search_path decides which"
    named_table = fact.table is not None and fact.kind not in ("other", "unknown_sql")
    if named_table:
        return f"table {quoted(fact.table)} is not schema-qualified: search_path decides which"
    return None
