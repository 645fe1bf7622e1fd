"""Our own bad and good cases for the intent of every squawk rule (squawk 2.70's default set
and its opt-in `require-table-schema`), written here rather than taken from squawk.

Each case is one migration run after `EXAMPLE_BASE` (the rule examples' schema: `users`,
`events`, the enums `user_status` and `mood`), optionally after a `given` migration that
adds what the case needs. `bad` and `good` are dbshift's judgement: `codes` are the
findings a bad case must produce (a good case may produce only those, and no other
warning or error). `differs` explains where squawk's judgement differs on purpose. The cases are tests
(tests/test_lint_cases.py) and the material of `bench/lint_vs_squawk.py`, which runs
squawk itself on the same SQL.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Case:
    #: the squawk rule whose intent the case covers
    intent: str
    bad: bool
    sql: str
    #: the same change as the body of `upgrade(op)`, where an operation spells it
    python: str | None = None
    codes: frozenset[str] = frozenset()
    transactional: bool = True
    #: SQL of a migration between the base and the case
    given: str | None = None
    differs: str | None = None

    @property
    def name(self) -> str:
        head = self.sql.strip().splitlines()[0][:60]
        return f"{self.intent}:{'bad' if self.bad else 'good'}:{head}"


def bad(intent: str, sql: str, *codes: str, **kw: object) -> Case:
    return Case(intent, True, sql, codes=frozenset(codes), **kw)  # type: ignore[arg-type]


def good(intent: str, sql: str, *codes: str, **kw: object) -> Case:
    return Case(intent, False, sql, codes=frozenset(codes), **kw)  # type: ignore[arg-type]


ROBUST = (
    "dbshift runs each migration once, in a transaction with its history row (or "
    "statement by statement with a journal), so a re-run after a failure resumes instead "
    "of repeating: IF [NOT] EXISTS would only hide a schema that differs from the history "
    "(DS322 asks for the one guard a retry needs: dropping a failed concurrent build)"
)
TIMEOUTS = (
    "dbshift sets lock_timeout for every migration itself (migration_lock_timeout, with "
    "retries), so DS312 fires only when the project turns dbshift's timeout off; a missing "
    "statement_timeout is reported at info (DS323)"
)
PARTITIONED = (
    "CREATE TABLE measurements (id bigint, at date NOT NULL) PARTITION BY RANGE (at);\n"
    "CREATE TABLE measurements_2025 PARTITION OF measurements "
    "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
)
DOMAIN = "CREATE DOMAIN positive_int AS integer;"

CASES: tuple[Case, ...] = (
    # -- adding-field-with-default: a volatile default rewrites the table
    bad(
        "adding-field-with-default",
        "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        "DS308",
        python='op.add_column("users", sa.Column("token", sa.Uuid, '
        'server_default=sa.text("gen_random_uuid()")))',
    ),
    bad(
        "adding-field-with-default",
        "ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();",
        "DS308",
    ),
    bad(
        "adding-field-with-default",
        "ALTER TABLE users ADD COLUMN settings jsonb DEFAULT default_settings();",
        "DS308",
    ),
    bad(
        "adding-field-with-default",
        "ALTER TABLE users ADD COLUMN double_score numeric GENERATED ALWAYS AS (score * 2) STORED;",
        "DS315",
        python='op.add_column("users", sa.Column("double_score", sa.Numeric, '
        'sa.Computed("score * 2", persisted=True)))',
    ),
    good(
        "adding-field-with-default",
        "ALTER TABLE users ADD COLUMN level integer DEFAULT 10;",
        python='op.add_column("users", sa.Column("level", sa.Integer, server_default="10"))',
    ),
    good(
        "adding-field-with-default",
        "ALTER TABLE users ADD COLUMN joined_at timestamptz DEFAULT now();",
    ),
    good(
        "adding-field-with-default",
        "ALTER TABLE users ADD COLUMN tags text[] DEFAULT '{}';",
    ),
    # -- adding-foreign-key-constraint: validation scans both tables under lock
    bad(
        "adding-foreign-key-constraint",
        "ALTER TABLE events ADD CONSTRAINT events_user_fk FOREIGN KEY (id) REFERENCES users (id);",
        "DS304",
        python='op.create_foreign_key("events_user_fk", "events", "users", ["id"], ["id"])',
    ),
    bad(
        "adding-foreign-key-constraint",
        "ALTER TABLE events ADD COLUMN user_id bigint REFERENCES users (id);",
        "DS304",
    ),
    good(
        "adding-foreign-key-constraint",
        "ALTER TABLE events ADD CONSTRAINT events_user_fk "
        "FOREIGN KEY (id) REFERENCES users (id) NOT VALID;",
    ),
    good(
        "adding-foreign-key-constraint",
        "CREATE TABLE likes (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));",
    ),
    # -- adding-not-nullable-field: SET NOT NULL scans the table under ACCESS EXCLUSIVE
    bad(
        "adding-not-nullable-field",
        "ALTER TABLE users ALTER COLUMN name SET NOT NULL;",
        "DS204",
        "DS306",
        python='op.alter_column("users", "name", nullable=False)',
    ),
    good(
        "adding-not-nullable-field",
        "ALTER TABLE users ADD CONSTRAINT users_name_nn CHECK (name IS NOT NULL) NOT VALID;",
    ),
    # -- adding-required-field: NOT NULL without a default breaks inserts of the old code
    bad(
        "adding-required-field",
        "ALTER TABLE users ADD COLUMN age integer NOT NULL;",
        "DS203",
        python='op.add_column("users", sa.Column("age", sa.Integer, nullable=False))',
    ),
    good(
        "adding-required-field",
        "ALTER TABLE users ADD COLUMN age integer NOT NULL DEFAULT 0;",
        python='op.add_column("users", sa.Column("age", sa.Integer, nullable=False, '
        'server_default="0"))',
    ),
    good(
        "adding-required-field",
        "ALTER TABLE users ADD COLUMN nickname text;",
    ),
    # -- adding-serial-primary-key-field: builds the key's index under ACCESS EXCLUSIVE
    bad(
        "adding-serial-primary-key-field",
        "ALTER TABLE events ADD COLUMN pk bigserial PRIMARY KEY;",
        "DS310",
    ),
    bad(
        "adding-serial-primary-key-field",
        "ALTER TABLE events ADD PRIMARY KEY (id);",
        "DS310",
        python='op.create_primary_key("events_pkey", "events", ["id"])',
    ),
    good(
        "adding-serial-primary-key-field",
        "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_id_idx;",
        given="CREATE UNIQUE INDEX CONCURRENTLY events_id_idx ON events (id);",
    ),
    # -- ban-char-field
    bad("ban-char-field", "CREATE TABLE codes (code char(4) PRIMARY KEY);", "DS612"),
    good("ban-char-field", "CREATE TABLE codes (code text PRIMARY KEY);"),
    # -- ban-concurrent-index-creation-in-transaction
    bad(
        "ban-concurrent-index-creation-in-transaction",
        "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
        "DS303",
        python='op.create_index("ix_users_email", "users", ["email"], '
        "postgresql_concurrently=True)",
    ),
    good(
        "ban-concurrent-index-creation-in-transaction",
        "DROP INDEX CONCURRENTLY IF EXISTS ix_users_email;\n"
        "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
        python='op.drop_invalid_index("ix_users_email")\n'
        'op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
        transactional=False,
    ),
    # -- ban-drop-column
    bad(
        "ban-drop-column",
        "ALTER TABLE users DROP COLUMN score;",
        "DS102",
        python='op.drop_column("users", "score")',
    ),
    good(
        "ban-drop-column",
        "ALTER TABLE users ADD COLUMN bio text;",
        python='op.add_column("users", sa.Column("bio", sa.Text))',
    ),
    # -- ban-drop-database
    bad("ban-drop-database", "DROP DATABASE legacy;", "DS108", transactional=False),
    # -- ban-drop-not-null
    bad(
        "ban-drop-not-null",
        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
        "DS205",
        python='op.alter_column("users", "email", nullable=True)',
    ),
    # -- ban-drop-table
    bad("ban-drop-table", "DROP TABLE events;", "DS101", python='op.drop_table("events")'),
    # -- changing-column-type: a rewrite under ACCESS EXCLUSIVE
    bad(
        "changing-column-type",
        "ALTER TABLE users ALTER COLUMN score TYPE bigint;",
        "DS307",
        python='op.alter_column("users", "score", type_=sa.BigInteger)',
    ),
    good(
        "changing-column-type",
        "ALTER TABLE users ALTER COLUMN name TYPE varchar(200);",
        python='op.alter_column("users", "name", type_=sa.String(200))',
        differs="widening a varchar (or varchar to text) changes only the catalog on "
        "PostgreSQL: no rewrite, no scan; dbshift knows the column's type from the history",
    ),
    good(
        "changing-column-type",
        "ALTER TABLE users ALTER COLUMN name TYPE text;",
        differs="varchar to text is binary-compatible on PostgreSQL: no rewrite",
    ),
    # -- constraint-missing-not-valid
    bad(
        "constraint-missing-not-valid",
        "ALTER TABLE users ADD CONSTRAINT users_score_pos CHECK (score > 0);",
        "DS305",
        python='op.create_check_constraint("users_score_pos", "users", "score > 0")',
    ),
    bad(
        "constraint-missing-not-valid",
        "ALTER TABLE users ADD CONSTRAINT users_score_pos CHECK (score > 0) NOT VALID;\n"
        "ALTER TABLE users VALIDATE CONSTRAINT users_score_pos;",
        "DS314",
    ),
    good(
        "constraint-missing-not-valid",
        "ALTER TABLE users ADD CONSTRAINT users_score_pos CHECK (score > 0) NOT VALID;",
    ),
    good(
        "constraint-missing-not-valid",
        "ALTER TABLE users VALIDATE CONSTRAINT users_score_pos;",
        given="ALTER TABLE users ADD CONSTRAINT users_score_pos CHECK (score > 0) NOT VALID;",
    ),
    # -- disallowed-unique-constraint
    bad(
        "disallowed-unique-constraint",
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
        "DS309",
        python='op.create_unique_constraint("users_email_key", "users", ["email"])',
    ),
    bad(
        "disallowed-unique-constraint",
        "ALTER TABLE users ADD COLUMN handle text UNIQUE;",
        "DS309",
    ),
    good(
        "disallowed-unique-constraint",
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;",
        given="CREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users (email);",
    ),
    # -- prefer-bigint-over-int / -smallint
    bad("prefer-bigint-over-int", "CREATE TABLE counters (id integer PRIMARY KEY);", "DS601"),
    bad(
        "prefer-bigint-over-int",
        "CREATE TABLE counters (id bigint PRIMARY KEY, n integer GENERATED ALWAYS AS IDENTITY);",
        "DS614",
    ),
    bad(
        "prefer-bigint-over-int",
        "ALTER TABLE events ADD COLUMN user_id integer REFERENCES users (id) NOT VALID;",
        "DS620",
    ),
    good(
        "prefer-bigint-over-int",
        "CREATE TABLE counters (id bigint PRIMARY KEY, hits integer);",
        differs="a 32-bit column is not a risk by itself: what overflows is a sequence "
        "(DS601 on a key, DS614 elsewhere) or a reference to a bigint key (DS620)",
    ),
    good("prefer-bigint-over-int", "CREATE TABLE counters (id bigint PRIMARY KEY);"),
    bad(
        "prefer-bigint-over-smallint",
        "CREATE TABLE flags (id bigint PRIMARY KEY, bits smallint);",
        "DS615",
    ),
    good("prefer-bigint-over-smallint", "CREATE TABLE flags (id bigint PRIMARY KEY, bits bigint);"),
    # -- prefer-identity
    bad("prefer-identity", "CREATE TABLE items (id bigserial PRIMARY KEY);", "DS616"),
    good(
        "prefer-identity",
        "CREATE TABLE items (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);",
    ),
    # -- prefer-robust-stmts: only where a retry needs it (a failed concurrent build)
    bad(
        "prefer-robust-stmts",
        "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
        "DS322",
        python='op.create_index("ix_users_email", "users", ["email"], '
        "postgresql_concurrently=True)",
        transactional=False,
    ),
    good("prefer-robust-stmts", "CREATE TABLE archive (id bigint PRIMARY KEY);", differs=ROBUST),
    good(
        "prefer-robust-stmts",
        "ALTER TABLE users ADD COLUMN archived boolean;",
        differs=ROBUST,
    ),
    # -- prefer-text-field
    bad(
        "prefer-text-field",
        "CREATE TABLE notes (id bigint PRIMARY KEY, title varchar(100));",
        "DS613",
    ),
    good("prefer-text-field", "CREATE TABLE notes (id bigint PRIMARY KEY, title text);"),
    # -- prefer-timestamp-tz
    bad(
        "prefer-timestamp-tz",
        "ALTER TABLE events ADD COLUMN happened_at timestamp;",
        "DS602",
        python='op.add_column("events", sa.Column("happened_at", sa.DateTime))',
    ),
    bad("prefer-timestamp-tz", "ALTER TABLE events ADD COLUMN seen timestamp[];", "DS602"),
    good(
        "prefer-timestamp-tz",
        "ALTER TABLE events ADD COLUMN happened_at timestamptz;",
        python='op.add_column("events", sa.Column("happened_at", sa.DateTime(timezone=True)))',
    ),
    # -- renaming-column / renaming-table
    bad(
        "renaming-column",
        "ALTER TABLE users RENAME COLUMN name TO full_name;",
        "DS202",
        python='op.rename_column("users", "name", "full_name")',
    ),
    bad(
        "renaming-table",
        "ALTER TABLE events RENAME TO audit_events;",
        "DS201",
        python='op.rename_table("events", "audit_events")',
    ),
    # -- require-concurrent-index-creation / -deletion
    bad(
        "require-concurrent-index-creation",
        "CREATE INDEX ix_users_email ON users (email);",
        "DS301",
        python='op.create_index("ix_users_email", "users", ["email"])',
    ),
    good(
        "require-concurrent-index-creation",
        "CREATE TABLE tags (id bigint PRIMARY KEY, label text);\n"
        "CREATE INDEX ix_tags_label ON tags (label);",
    ),
    bad(
        "require-concurrent-index-deletion",
        "DROP INDEX ix_users_name;",
        "DS302",
        python='op.drop_index("ix_users_name", "users")',
    ),
    bad(
        "require-concurrent-index-deletion",
        'DROP INDEX "ix_users_name", "ix_users_email";',
        "DS302",
        given="CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
    ),
    good(
        "require-concurrent-index-deletion",
        "DROP INDEX CONCURRENTLY ix_users_name;",
        python='op.drop_index("ix_users_name", "users", postgresql_concurrently=True)',
        transactional=False,
    ),
    # -- transaction-nesting / ban-uncommitted-transaction
    bad(
        "transaction-nesting",
        "BEGIN;\nALTER TABLE users ADD COLUMN bio text;\nCOMMIT;",
        "DS611",
    ),
    bad(
        "ban-uncommitted-transaction",
        "BEGIN;\nALTER TABLE users ADD COLUMN bio text;",
        "DS611",
    ),
    # -- domains: a constraint on a domain checks every column that uses it
    bad(
        "ban-create-domain-with-constraint",
        "CREATE DOMAIN percent AS integer CHECK (VALUE BETWEEN 0 AND 100);",
        "DS319",
    ),
    good("ban-create-domain-with-constraint", "CREATE DOMAIN label AS text;"),
    bad(
        "ban-alter-domain-with-add-constraint",
        "ALTER DOMAIN positive_int ADD CONSTRAINT positive CHECK (VALUE > 0);",
        "DS320",
        given=DOMAIN,
    ),
    good(
        "ban-alter-domain-with-add-constraint",
        "ALTER DOMAIN positive_int ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID;",
        given=DOMAIN,
        differs="NOT VALID skips the scan of existing columns (new values are checked); "
        "squawk flags every ADD CONSTRAINT on a domain",
    ),
    # -- ban-truncate-cascade
    bad("ban-truncate-cascade", "TRUNCATE users CASCADE;", "DS105", "DS109"),
    # -- syntax-error: invalid SQL is an error; valid SQL sqlglot cannot read is not
    bad("syntax-error", "ALTER TABLE users ADD COLUMN (a int;", "DS606"),
    bad(
        "syntax-error",
        "ALTER TABLE users ADD COLUMN;",
        "DS607",
        differs="sqlglot reads it as a statement it does not model, and the word-by-word "
        "reader cannot tell unsupported from invalid: reported as not checked (DS607, info) "
        "rather than as invalid",
    ),
    good(
        "syntax-error",
        "CLUSTER users USING users_pkey;",
        "DS317",
        differs="valid PostgreSQL: reported for its rewrite (prefer-repack), not as a syntax error",
    ),
    good("syntax-error", "ALTER TABLE events ADD COLUMN flags bit varying(8);"),
    good("syntax-error", "INSERT INTO events (id, payload) VALUES (1, 'x');"),
    # -- require-lock-timeout, require-statement-timeout: dbshift sets the lock timeout itself
    good(
        "require-lock-timeout",
        "ALTER TABLE users ADD COLUMN note text;",
        differs=TIMEOUTS,
    ),
    # -- require-enum-value-ordering
    bad(
        "require-enum-value-ordering",
        "ALTER TYPE level ADD VALUE 'delta';",
        "DS617",
        given="CREATE TYPE level AS ENUM ('alpha', 'beta', 'gamma');",
    ),
    good(
        "require-enum-value-ordering",
        "ALTER TYPE mood ADD VALUE 'calm';",
        differs="appending is what most enums want; dbshift flags an appended value only "
        "when the existing ones are in alphabetical order and it would break that order",
    ),
    good("require-enum-value-ordering", "ALTER TYPE mood ADD VALUE 'calm' AFTER 'happy';"),
    # -- require-table-schema (opt-in in squawk and in dbshift)
    good(
        "require-table-schema",
        "CREATE TABLE plain (id bigint PRIMARY KEY);",
        differs="opt-in in both tools: dbshift's DS619, off by default",
    ),
    # -- identifier-too-long
    bad(
        "identifier-too-long",
        "CREATE TABLE " + "t" * 64 + " (id bigint PRIMARY KEY);",
        "DS603",
    ),
    good("identifier-too-long", "CREATE TABLE " + "t" * 63 + " (id bigint PRIMARY KEY);"),
    # -- require-concurrent-partition-detach (PostgreSQL 14+)
    bad(
        "require-concurrent-partition-detach",
        "ALTER TABLE measurements DETACH PARTITION measurements_2025;",
        "DS318",
        given=PARTITIONED,
    ),
    good(
        "require-concurrent-partition-detach",
        "ALTER TABLE measurements DETACH PARTITION measurements_2025 CONCURRENTLY;",
        given=PARTITIONED,
        transactional=False,
    ),
    # -- require-concurrent-reindex
    bad("require-concurrent-reindex", "REINDEX INDEX ix_users_name;", "DS316"),
    good(
        "require-concurrent-reindex",
        "REINDEX INDEX CONCURRENTLY ix_users_name;",
        transactional=False,
    ),
    # -- prefer-repack: VACUUM FULL and CLUSTER rewrite under ACCESS EXCLUSIVE
    bad("prefer-repack", "VACUUM FULL users;", "DS317", transactional=False),
    bad("prefer-repack", "CLUSTER users USING users_pkey;", "DS317"),
    # -- the rollback-compatibility rules squawk added in 2.68
    bad(
        "ban-drop-schema",
        "DROP SCHEMA reporting CASCADE;",
        "DS103",
        given="CREATE SCHEMA reporting;",
    ),
    bad(
        "ban-drop-sequence",
        "DROP SEQUENCE invoice_numbers;",
        "DS110",
        given="CREATE SEQUENCE invoice_numbers;",
        python='op.drop_sequence("invoice_numbers")',
    ),
)
