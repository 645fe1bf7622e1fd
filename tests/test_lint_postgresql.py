"""PostgreSQL linting, beyond the rule examples: the bugs of issue 12 in both forms, the
word-by-word reading of statements sqlglot cannot parse, the volatility of defaults,
and the server as the oracle for what the linter claims (valid syntax, table rewrites)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from dbshift.linter.model import Example
from dbshift.linter.sqlfacts import facts_from_sql
from dbshift.linter.volatility import SAFE_BUILTINS, calls, volatile_call
from tests.lint_support import lint_folder, write_base, write_example


def _codes(tmp_path: Path, form: str, text: str, **options: object) -> list[str]:
    example = Example(**{form: text}, **options)  # type: ignore[arg-type]
    folder = tmp_path / form
    write_base(folder)
    migration_id = write_example(folder, example, form, "postgresql")
    return [f.code for f in lint_folder(folder, "postgresql", example.version, [migration_id])]


# -- the bugs, in Python and SQL form --------------------------------------------------------

GENERATED_NOT_NULL = {
    "python": 'op.add_column("users", sa.Column("bar", sa.Numeric, '
    'sa.Computed("score + 1", persisted=True), nullable=False))',
    "sql": "ALTER TABLE users ADD COLUMN bar numeric GENERATED ALWAYS AS (score + 1) STORED "
    "NOT NULL;",
}


@pytest.mark.parametrize("form", ["python", "sql"])
def test_generated_column_needs_no_default_but_rewrites(tmp_path: Path, form: str) -> None:
    codes = _codes(tmp_path, form, GENERATED_NOT_NULL[form])
    assert "DS203" not in codes
    assert "DS315" in codes


#: Python form: `op.add_column` records a unique or foreign key column's constraint as an
#: operation of its own (a `primary_key=True` column gets none, so has no Python form)
INLINE = [
    ("DS309", "python", 'op.add_column("users", sa.Column("bar", sa.Text, unique=True))'),
    ("DS309", "sql", "ALTER TABLE users ADD COLUMN bar text UNIQUE;"),
    (
        "DS304",
        "python",
        'op.add_column("events", sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id")))',
    ),
    (
        "DS304",
        "sql",
        "ALTER TABLE events ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE SET NULL;",
    ),
    ("DS310", "sql", "ALTER TABLE events ADD COLUMN event_id bigserial PRIMARY KEY;"),
]


@pytest.mark.parametrize(("code", "form", "text"), INLINE)
def test_inline_constraint_on_added_column(tmp_path: Path, code: str, form: str, text: str) -> None:
    assert code in _codes(tmp_path, form, text)


@pytest.mark.parametrize(
    ("form", "text"),
    [
        (
            "python",
            'op.add_column("users", sa.Column("prefs", sa.Text, server_default=sa.text("myjsonb()")))',
        ),
        ("sql", "ALTER TABLE users ADD COLUMN prefs jsonb DEFAULT myjsonb();"),
        ("sql", "ALTER TABLE users ADD COLUMN prefs jsonb DEFAULT public.myjsonb();"),
    ],
)
def test_default_from_unknown_function_rewrites(tmp_path: Path, form: str, text: str) -> None:
    assert "DS308" in _codes(tmp_path, form, text)


def test_default_from_function_declared_stable_does_not(tmp_path: Path) -> None:
    sql = (
        "CREATE OR REPLACE FUNCTION public.myjsonb() RETURNS jsonb LANGUAGE sql STABLE "
        "AS $f$ SELECT 'VOLATILE'::text::jsonb $f$;\n"
        "ALTER TABLE users ADD COLUMN prefs jsonb DEFAULT public.myjsonb();"
    )
    assert "DS308" not in _codes(tmp_path, "sql", sql)
    volatile = sql.replace("STABLE", "")
    assert "DS308" in _codes(tmp_path / "v", "sql", volatile)


@pytest.mark.parametrize(
    ("form", "text"),
    [
        ("python", 'op.add_column("users", sa.Column("at", sa.ARRAY(sa.DateTime)))'),
        ("sql", "ALTER TABLE users ADD COLUMN at timestamp[];"),
        ("sql", "CREATE TABLE tmp (id bigint, at timestamp without time zone[][]);"),
    ],
)
def test_timestamp_array_is_timestamp(tmp_path: Path, form: str, text: str) -> None:
    assert "DS602" in _codes(tmp_path, form, text)


@pytest.mark.parametrize(
    ("form", "text"),
    [
        ("python", 'op.alter_column("users", "email", nullable=True)'),
        ("sql", "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;"),
    ],
)
def test_drop_not_null(tmp_path: Path, form: str, text: str) -> None:
    assert "DS205" in _codes(tmp_path, form, text)


# -- valid PostgreSQL sqlglot cannot parse keeps its real check --------------------------

READ_BY_WORDS = [
    ('DROP INDEX "ix_users_name", ix_users_email;', ["DS302", "DS302"]),
    ("DROP INDEX CONCURRENTLY IF EXISTS public.a, b CASCADE;", ["DS303", "DS303"]),
    ("CLUSTER users USING users_pkey;", ["DS317"]),
    ("ALTER TABLE users ADD COLUMN flags bit varying(8) NOT NULL;", ["DS203"]),
    ("ALTER TABLE users ADD COLUMN flags bit varying(8) UNIQUE;", ["DS309"]),
    (
        "ALTER TABLE users ADD COLUMN flags bit varying;\nINSERT INTO k (a.x, a.y) VALUES (1, 2);",
        ["DS605"],
    ),
]


@pytest.mark.parametrize(("sql", "expected"), READ_BY_WORDS)
def test_valid_postgresql_is_read_not_unparsable(
    tmp_path: Path, sql: str, expected: list[str]
) -> None:
    codes = _codes(tmp_path, "sql", sql)
    assert "DS606" not in codes
    for code in set(expected):
        assert codes.count(code) >= expected.count(code), codes


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE (",
        "DROP INDEX foo bar",
        "DROP INDEX a,",
        "CLUSTER users USING",
        "ALTER TABLE users ADD COLUMN x bit varying(8) NOT NULL FROB",
        "INSERT INTO k (a.x VALUES (1)",
        "CREATE TABLE t (a bit varying, CONSTRAINT c)",
        "UPDATE users score = 1",
    ],
)
def test_invalid_sql_stays_unparsable_or_unknown(sql: str) -> None:
    kinds = [f.kind for f in facts_from_sql(sql, "postgresql")]
    assert kinds in (["unparsable"], ["unknown_sql"]), kinds


_IDENT = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: s.upper() not in ("CASCADE", "RESTRICT", "CONCURRENTLY", "IF")
)
_QUOTED = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    names=st.lists(
        st.one_of(
            _IDENT.map(lambda s: (s, s)),
            _QUOTED.map(lambda s: (s, '"' + s.replace('"', '""') + '"')),
        ),
        min_size=1,
        max_size=4,
    ),
    concurrently=st.booleans(),
    if_exists=st.booleans(),
    tail=st.sampled_from(["", " CASCADE", " RESTRICT"]),
)
def test_drop_index_lists_read_word_by_word(
    names: list[tuple[str, str]], concurrently: bool, if_exists: bool, tail: str
) -> None:
    sql = (
        "DROP INDEX "
        + ("CONCURRENTLY " if concurrently else "")
        + ("IF EXISTS " if if_exists else "")
        + ", ".join(written for _name, written in names)
        + tail
    )
    facts = facts_from_sql(sql, "postgresql")
    assert [f.kind for f in facts] == ["drop_index"] * len(names)
    assert [f.name for f in facts] == [name for name, _written in names]
    assert all(f.concurrently == concurrently for f in facts)


# -- volatility ------------------------------------------------------------------------------


def test_calls_skip_casts_strings_and_syntax() -> None:
    assert calls("CAST('f(x)' AS varchar(10))") == []
    assert calls("coalesce(x, 'a')::numeric(5, 2)") == []
    assert calls('lower(name) || s.f(1) || "My F"()') == ["lower", "s.f", "my f"]


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            st.sampled_from(sorted(SAFE_BUILTINS)).map(lambda f: f"{f}(x)"),
            st.sampled_from(
                ["'it''s (x)'", "1", "x::varchar(3)", "CAST(y AS numeric(4, 1))", "now()"]
            ),
        ),
        min_size=1,
        max_size=5,
    ),
    unknown=st.one_of(st.none(), st.sampled_from(["myjsonb", "app.next_code", "random"])),
    at=st.integers(min_value=0, max_value=5),
)
def test_a_default_is_volatile_exactly_when_it_calls_an_unknown_function(
    parts: list[str], unknown: str | None, at: int
) -> None:
    if unknown is not None:
        parts.insert(min(at, len(parts)), f"{unknown}()")
    expression = " || ".join(parts)
    assert volatile_call(expression) == unknown
    if unknown is not None:
        assert volatile_call(expression, {unknown: "immutable"}) is None


# -- the server as the oracle -------------------------------------------------------------------


@pytest.fixture
def pg(engine: sa.Engine) -> Iterator[sa.Connection]:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn


@pytest.mark.backends("postgresql")
def test_safe_builtins_are_not_volatile_on_the_server(pg: sa.Connection) -> None:
    rows = pg.execute(
        sa.text("SELECT proname, bool_or(provolatile = 'v') FROM pg_proc GROUP BY proname")
    ).all()
    volatile = {name for name, any_volatile in rows if any_volatile}
    known = {name for name, _v in rows}
    assert not SAFE_BUILTINS & volatile
    assert known >= SAFE_BUILTINS


_SETUP = (
    "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text, score int)",
    "CREATE INDEX ix_users_name ON users (name)",
    "CREATE INDEX ix_users_email ON users (email)",
    "CREATE TYPE pair AS (x int, y int)",
    "CREATE TABLE k (id bigint, a pair)",
    "CREATE TABLE events (id bigint) PARTITION BY RANGE (id)",
    "CREATE TABLE events_2020 PARTITION OF events FOR VALUES FROM (0) TO (10)",
    "CREATE TABLE tickets (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    "n bigint GENERATED ALWAYS AS (id * 2) STORED, s int DEFAULT 1)",
    "ALTER TABLE users ADD CONSTRAINT users_score_check CHECK (score >= 0)",
    "CREATE VIEW v_users AS SELECT id FROM users",
    "CREATE MATERIALIZED VIEW mv_users AS SELECT id FROM users",
    "CREATE SEQUENCE seq_a",
    "CREATE FUNCTION rank_of(bigint) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
    "CREATE PROCEDURE proc_a(a int) LANGUAGE sql AS $$ SELECT 1 $$",
    "CREATE TYPE mood AS ENUM ('happy', 'sad')",
    "CREATE DOMAIN dom_a AS integer",
    "CREATE SCHEMA archive",
    "CREATE SCHEMA reporting",
    "CREATE EXTENSION IF NOT EXISTS citext",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
)
#: statements the word readers accept: the server's parser must accept each one too
ACCEPTED = [
    "CLUSTER users USING users_pkey",
    "CLUSTER VERBOSE users",
    "VACUUM (FULL, ANALYZE) users (name), k",
    "VACUUM FULL VERBOSE users",
    "REINDEX TABLE users",
    "REINDEX (VERBOSE) INDEX ix_users_name",
    "ALTER TABLE users ADD COLUMN flags bit varying(8)[] NOT NULL DEFAULT '{}'",
    "ALTER TABLE users ADD COLUMN r bigint REFERENCES users (id) ON DELETE SET NULL NOT NULL",
    "ALTER TABLE users ADD COLUMN g numeric GENERATED ALWAYS AS (score + 1) STORED",
    "ALTER TABLE users ADD COLUMN t timestamp(3) with time zone, ALTER COLUMN name SET DEFAULT 'x'",
    "CREATE TABLE t2 (a bit varying, b int PRIMARY KEY, CONSTRAINT u UNIQUE (a), CHECK (b > 0))",
    "INSERT INTO k (a.x, a.y) VALUES (1, 2)",
    "UPDATE k SET a.x = 1 WHERE id = 2",
    "DELETE FROM ONLY k WHERE id = 2",
    "ALTER TABLE events DETACH PARTITION events_2020",
    "CREATE DOMAIN positive AS integer CHECK (VALUE > 0)",
    "ALTER DOMAIN positive ADD CONSTRAINT above_one CHECK (VALUE > 1) NOT VALID",
    "ALTER DOMAIN positive SET NOT NULL",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql STABLE AS $$ SELECT 1 $$",
    'DROP INDEX "ix_users_name", ix_users_email',
    # rollback compatibility (DS111, DS206-DS214), in an order the server accepts
    "ALTER TABLE tickets ALTER COLUMN s DROP DEFAULT",
    "ALTER TABLE tickets ALTER COLUMN n DROP EXPRESSION IF EXISTS",
    "ALTER TABLE tickets ALTER COLUMN id SET GENERATED ALWAYS SET INCREMENT BY 2 RESTART WITH 5",
    "ALTER TABLE tickets ALTER COLUMN id SET MINVALUE 1 RESTART 10",
    "ALTER TABLE tickets ALTER COLUMN id DROP IDENTITY IF EXISTS",
    "ALTER TABLE tickets ALTER id ADD GENERATED BY DEFAULT AS IDENTITY (START WITH 100)",
    "ALTER TABLE users RENAME CONSTRAINT users_score_check TO users_score_ok",
    "ALTER TABLE users DROP CONSTRAINT users_score_ok",
    "ALTER VIEW v_users RENAME TO v_people",
    "ALTER VIEW IF EXISTS v_people SET SCHEMA archive",
    "ALTER MATERIALIZED VIEW IF EXISTS mv_users RENAME TO mv_people",
    "ALTER SEQUENCE IF EXISTS seq_a RENAME TO seq_b",
    "ALTER SEQUENCE seq_b SET SCHEMA archive",
    "ALTER FUNCTION rank_of(bigint) RENAME TO rank_for",
    "ALTER FUNCTION rank_for SET SCHEMA archive",
    "ALTER PROCEDURE proc_a(int) RENAME TO proc_b",
    "ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy'",
    "ALTER TYPE mood RENAME TO feeling",
    "ALTER TYPE feeling SET SCHEMA archive",
    "ALTER DOMAIN dom_a RENAME TO dom_b",
    "ALTER DOMAIN dom_b SET SCHEMA archive",
    "ALTER INDEX IF EXISTS users_pkey RENAME TO users_id_key",
    "ALTER SCHEMA reporting RENAME TO analytics",
    "ALTER TABLE IF EXISTS k SET SCHEMA archive",
    "DROP VIEW IF EXISTS archive.v_people CASCADE",
    "DROP MATERIALIZED VIEW mv_people",
    "DROP PROCEDURE proc_b(int)",
    "DROP FUNCTION IF EXISTS archive.rank_for(bigint), no_such(int) CASCADE",
    "DROP DOMAIN archive.dom_b RESTRICT",
    "DROP EXTENSION IF EXISTS pg_trgm, citext CASCADE",
    "DROP TYPE archive.feeling CASCADE",
]


@pytest.mark.backends("postgresql")
def test_what_the_word_readers_accept_the_server_accepts(pg: sa.Connection) -> None:
    for statement in _SETUP:
        pg.execute(sa.text(statement))
    for sql in ACCEPTED:
        facts = facts_from_sql(sql, "postgresql")
        assert facts and not {f.kind for f in facts} & {"unparsable", "unknown_sql"}, (sql, facts)
        pg.execute(sa.text(sql.replace(":", "\\:")))


def _filenode(pg: sa.Connection, table: str) -> int:
    return int(pg.execute(sa.text(f"SELECT pg_relation_filenode('{table}')")).scalar_one())


REWRITES = [
    ("ALTER TABLE r ADD COLUMN c int GENERATED ALWAYS AS (a * 2) STORED", True, "DS315"),
    ("ALTER TABLE r ADD COLUMN c bigint GENERATED BY DEFAULT AS IDENTITY", True, "DS315"),
    ("ALTER TABLE r ADD COLUMN c bigserial", True, "DS315"),
    ("ALTER TABLE r ADD COLUMN c text DEFAULT gen_random_uuid()::text", True, "DS308"),
    ("ALTER TABLE r ADD COLUMN c jsonb DEFAULT myjsonb()", True, "DS308"),
    ("ALTER TABLE r ADD COLUMN c jsonb DEFAULT stablejsonb()", False, "DS308"),
    ("ALTER TABLE r ADD COLUMN c timestamptz DEFAULT now()", False, "DS308"),
    ("ALTER TABLE r ADD COLUMN c text DEFAULT lower(md5('x'))", False, "DS308"),
    ("ALTER TABLE r ADD COLUMN c int", False, "DS315"),
    # DS315's advice: an identity attached to a filled column rewrites nothing
    (
        "ALTER TABLE r ALTER COLUMN a SET NOT NULL, "
        "ALTER COLUMN a ADD GENERATED BY DEFAULT AS IDENTITY",
        False,
        "DS315",
    ),
]


@pytest.mark.backends("postgresql")
def test_the_rewrites_the_linter_claims_happen(pg: sa.Connection, tmp_path: Path) -> None:
    from dbshift.linter import lint_operations
    from dbshift.linter.model import SchemaState, Target
    from dbshift.ops.raw import ExecuteSQL

    functions = (
        # plpgsql: the planner cannot inline it into a constant as it may a SQL function
        "CREATE FUNCTION myjsonb() RETURNS jsonb LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN '{}'::jsonb; END $$",
        "CREATE FUNCTION stablejsonb() RETURNS jsonb LANGUAGE sql STABLE AS $$ SELECT '{}'::jsonb $$",
    )
    for statement in functions:
        pg.execute(sa.text(statement.replace(":", "\\:")))
    state = SchemaState()
    state.apply(facts_from_sql(functions[1])[0])
    for sql, rewrites, code in REWRITES:
        pg.execute(sa.text("DROP TABLE IF EXISTS r"))
        pg.execute(sa.text("CREATE TABLE r (a int)"))
        pg.execute(sa.text("INSERT INTO r SELECT g FROM generate_series(1, 100) g"))
        state.apply(facts_from_sql("CREATE TABLE r (a int)")[0])
        before = _filenode(pg, "r")
        pg.execute(sa.text(sql.replace(":", "\\:")))
        assert (_filenode(pg, "r") != before) == rewrites, sql
        findings = lint_operations([ExecuteSQL(sql)], Target("postgresql", (15,)), before=state)
        assert (code in {f.code for f in findings}) == rewrites, (sql, findings)


#: (setup, the change, a statement of the running release, a query after it or None):
#: with None the statement fails after the change, else it runs and the query gives NULL
BREAKS = [
    (
        ("CREATE TABLE b (id int, s int NOT NULL DEFAULT 1)",),
        "ALTER TABLE b ALTER COLUMN s DROP DEFAULT",
        "INSERT INTO b (id) VALUES (1)",
        None,
        "DS206",
    ),
    (
        ("CREATE TABLE b (id int, s int DEFAULT 1)",),
        "ALTER TABLE b ALTER COLUMN s DROP DEFAULT",
        "INSERT INTO b (id) VALUES (1)",
        "SELECT s FROM b",
        "DS206",
    ),
    (
        ("CREATE TABLE b (id int CONSTRAINT b_id_key UNIQUE)",),
        "ALTER TABLE b DROP CONSTRAINT b_id_key",
        "INSERT INTO b VALUES (1) ON CONFLICT (id) DO NOTHING",
        None,
        "DS207",
    ),
    (
        ("CREATE EXTENSION IF NOT EXISTS pg_trgm",),
        "DROP EXTENSION pg_trgm",
        "SELECT similarity('word', 'sword')",
        None,
        "DS208",
    ),
    (
        ("CREATE TABLE b (id int, n int GENERATED ALWAYS AS (id * 2) STORED)",),
        "ALTER TABLE b ALTER COLUMN n DROP EXPRESSION",
        "INSERT INTO b (id) VALUES (1)",
        "SELECT n FROM b",
        "DS209",
    ),
    (
        ("CREATE TABLE b (id bigint GENERATED BY DEFAULT AS IDENTITY)",),
        "ALTER TABLE b ALTER COLUMN id SET GENERATED ALWAYS",
        "INSERT INTO b (id) VALUES (7)",
        None,
        "DS210",
    ),
    (
        ("CREATE TABLE b (id bigint GENERATED BY DEFAULT AS IDENTITY, x int)",),
        "ALTER TABLE b ALTER COLUMN id DROP IDENTITY",
        "INSERT INTO b (x) VALUES (1)",
        None,
        "DS211",
    ),
    (
        ("CREATE TYPE m AS ENUM ('a')", "CREATE TABLE b (x m)"),
        "ALTER TYPE m RENAME TO m2",
        "INSERT INTO b (x) VALUES ('a'::m)",  # as SQLAlchemy's asyncpg driver binds it
        None,
        "DS212",
    ),
    (
        ("CREATE TYPE m AS ENUM ('a')", "CREATE TABLE b (x m)"),
        "ALTER TYPE m RENAME VALUE 'a' TO 'z'",
        "INSERT INTO b (x) VALUES ('a')",
        None,
        "DS212",
    ),
    (
        ("CREATE SEQUENCE q",),
        "ALTER SEQUENCE q RENAME TO q2",
        "SELECT nextval('q')",
        None,
        "DS212",
    ),
    (
        ("CREATE SCHEMA archive", "CREATE TABLE b (id int)"),
        "ALTER TABLE b SET SCHEMA archive",
        "SELECT id FROM b",
        None,
        "DS213",
    ),
    (
        ("CREATE VIEW w AS SELECT 1 AS one",),
        "DROP VIEW w",
        "SELECT one FROM w",
        None,
        "DS214",
    ),
    (
        ("CREATE DOMAIN d AS int", "CREATE TABLE b (id int, x d)"),
        "DROP DOMAIN d CASCADE",
        "SELECT x FROM b",
        None,
        "DS111",
    ),
]


@pytest.mark.backends("postgresql")
def test_the_breaks_the_linter_claims_happen(pg: sa.Connection) -> None:
    """Each rollback-compatibility rule's claim, on the server: the running release's
    statement fails (or stores NULL) after the change, and the rule reports the change."""
    from dbshift.linter import lint_operations
    from dbshift.linter.model import SchemaState, Target
    from dbshift.ops.raw import ExecuteSQL

    for setup, change, old, query, code in BREAKS:
        state = SchemaState()
        pg.execute(sa.text("BEGIN"))
        try:
            for statement in setup:
                pg.execute(sa.text(statement))
                for fact in facts_from_sql(statement):
                    state.apply(fact)
            pg.execute(sa.text(old))  # works before the change
            pg.execute(sa.text(change))
            if query is None:
                pg.execute(sa.text("SAVEPOINT before_old"))
                with pytest.raises(sa.exc.DBAPIError):
                    pg.execute(sa.text(old))
                pg.execute(sa.text("ROLLBACK TO SAVEPOINT before_old"))
            else:
                pg.execute(sa.text("DELETE FROM b"))
                pg.execute(sa.text(old))
                assert pg.execute(sa.text(query)).scalar_one() is None, change
        finally:
            pg.execute(sa.text("ROLLBACK"))
        findings = lint_operations([ExecuteSQL(change)], Target("postgresql", (15,)), before=state)
        assert code in {f.code for f in findings}, (change, findings)


@pytest.mark.backends("postgresql")
def test_a_domain_in_use_is_not_dropped_without_cascade_so_ds111_leaves_that_alone(
    pg: sa.Connection,
) -> None:
    from dbshift.linter import lint_operations
    from dbshift.linter.model import Target
    from dbshift.ops.raw import ExecuteSQL

    pg.execute(sa.text("CREATE DOMAIN d AS int"))
    pg.execute(sa.text("CREATE TABLE b (x d)"))
    with pytest.raises(sa.exc.DBAPIError, match="depend"):
        pg.execute(sa.text("DROP DOMAIN d"))
    findings = lint_operations([ExecuteSQL("DROP DOMAIN d")], Target("postgresql", (15,)))
    assert not {f.code for f in findings} & {"DS111", "DS607"}


#: what DS303 and DS321 say cannot run in a transaction block (the names exist in _SETUP)
OUTSIDE_BLOCKS = [
    ("VACUUM users", "DS321"),
    ("VACUUM FULL users", "DS321"),
    ("CLUSTER", "DS321"),
    ("REINDEX SCHEMA public", "DS321"),
    ("DROP DATABASE IF EXISTS dbshift_no_such_database", "DS321"),
    ("REINDEX INDEX CONCURRENTLY ix_users_name", "DS303"),
    ("ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY", "DS303"),
    ("CREATE INDEX CONCURRENTLY ix_users_score ON users (score)", "DS303"),
]


@pytest.mark.backends("postgresql")
def test_what_must_run_outside_a_transaction_block_is_refused_in_one(pg: sa.Connection) -> None:
    from dbshift.linter import lint_operations
    from dbshift.linter.model import Target
    from dbshift.ops.raw import ExecuteSQL

    for statement in _SETUP:
        pg.execute(sa.text(statement))
    for sql, code in OUTSIDE_BLOCKS:
        findings = lint_operations([ExecuteSQL(sql)], Target("postgresql", (15,)))
        assert code in {f.code for f in findings}, (sql, findings)
        pg.execute(sa.text("BEGIN"))
        try:
            with pytest.raises(sa.exc.DBAPIError, match="cannot run inside a transaction block"):
                pg.execute(sa.text(sql))
        finally:
            pg.execute(sa.text("ROLLBACK"))
        quiet = lint_operations([ExecuteSQL(sql)], Target("postgresql", (15,)), transactional=False)
        assert code not in {f.code for f in quiet}, sql


@pytest.mark.parametrize("form", ["python", "sql"])
def test_a_statement_timeout_in_the_header_or_the_config_silences_ds323(
    tmp_path: Path, form: str
) -> None:
    from dbshift.config import Config
    from dbshift.linter.engine import Settings
    from dbshift.migrations import sumfile
    from dbshift.migrations.scripts import scan

    text = {
        "python": 'op.alter_column("users", "score", type_=sa.BigInteger)',
        "sql": "ALTER TABLE users ALTER COLUMN score TYPE bigint;",
    }[form]
    assert "DS323" in _codes(tmp_path, form, text)
    folder = tmp_path / form
    path = next(folder.glob("20260101T000002_example.*"))
    header = 'statement_timeout = "30s"\n' if form == "python" else "-- statement_timeout: 30s\n"
    lines = path.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "parents" in line) + 1
    path.write_text("".join([*lines[:at], header, *lines[at:]]))
    sumfile.write(folder, scan(folder))
    findings = lint_folder(folder, "postgresql", None, ["20260101T000002_example"])
    assert "DS323" not in {f.code for f in findings}
    assert "DS323" in Settings.of(Config(statement_timeout=30)).disable
    assert "DS323" not in Settings.of(Config()).disable


_CONSTRAINTS = {
    "not_null": "NOT NULL",
    "null": "NULL",
    "default": "DEFAULT 0",
    "unique": "UNIQUE",
    "primary_key": "PRIMARY KEY",
    "references": "REFERENCES users (id) ON DELETE SET NULL",
    "check": "CHECK (c IS NOT NULL)",
}


@settings(max_examples=200, deadline=None)
@given(
    type_=st.sampled_from(["bit varying(8)", "bit varying", "integer", "timestamp[]", "text"]),
    constraints=st.lists(st.sampled_from(sorted(_CONSTRAINTS)), unique=True, max_size=5).filter(
        lambda c: not {"null", "not_null"} <= set(c) and not {"null", "primary_key"} <= set(c)
    ),
    named=st.booleans(),
)
def test_a_column_definition_is_read_the_same_whoever_parses_it(
    type_: str, constraints: list[str], named: bool
) -> None:
    """sqlglot reads `integer` columns, the word readers `bit varying` ones: the facts
    are the same, whatever the order of the constraints."""
    written = " ".join(("CONSTRAINT k " if named else "") + _CONSTRAINTS[c] for c in constraints)
    facts = facts_from_sql(f"ALTER TABLE users ADD COLUMN c {type_} {written}", "postgresql")
    assert [f.kind for f in facts] == ["add_column"], facts
    column = facts[0].columns[0]
    assert column.name == "c"
    assert column.nullable == ("not_null" not in constraints and "primary_key" not in constraints)
    assert column.unique == ("unique" in constraints)
    assert column.primary_key == ("primary_key" in constraints)
    assert column.inline_reference == ("references" in constraints)
    assert (column.default is not None) == ("default" in constraints)
    assert column.type.array == type_.count("[]")
