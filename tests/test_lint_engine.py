"""The engine without files or servers: suppression placement, SQL statement shapes,
context (tables made in the same migration), and the API other commands call."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbshift.facts import ColumnFact, TypeInfo
from dbshift.linter import SchemaState, Target, lint_operations
from dbshift.linter.engine import check
from dbshift.linter.model import MigrationFacts
from dbshift.linter.sqlfacts import facts_from_sql
from dbshift.migrations import sumfile
from dbshift.migrations.scripts import scan
from dbshift.ops import CreateIndex, DropColumn
from dbshift.ops.recorder import Op
from dbshift.schema.snapshot import Index
from tests.lint_support import BASE_ID, lint_folder, write_base

PG = Target("postgresql")

# -- suppression comments in Python: on any line of the op's statement, not elsewhere ----

FILLERS = ['op.execute("SELECT 1")', "x = 1", 'op.add_column("users", sa.Column("a", sa.Integer))']


SHAPES = [
    ['op.drop_table("users")'],
    ["op.drop_table(", '    "users"', ")"],
    ['op.drop_table("users",', "              schema=None)"],
    ["op.drop_table(", '    "users",', "    schema=None,", ")"],
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(st.sampled_from(FILLERS), max_size=3),
    after=st.lists(st.sampled_from(FILLERS), max_size=3),
    lines=st.sampled_from(SHAPES),
    at=st.integers(min_value=0, max_value=10),
    on_target=st.booleans(),
    spaces=st.sampled_from(["", " ", "  "]),
)
def test_python_suppression_placement(
    before: list[str], after: list[str], lines: list[str], at: int, on_target: bool, spaces: str
) -> None:
    body = [*before, *lines, *after]
    comment = f"#{spaces}dbshift:{spaces}ignore[DS101]"
    if on_target:
        index = len(before) + at % len(lines)
    else:
        others = [i for i in range(len(body)) if not len(before) <= i < len(before) + len(lines)]
        if not others:
            return
        index = others[at % len(others)]
    body[index] += f"  {comment}"
    codes = _lint_python("\n".join(body))
    if on_target:
        assert "DS101" not in codes and "DS609" not in codes
    else:
        assert "DS101" in codes and "DS609" in codes


def _lint_python(body: str, backend: str = "postgresql") -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "migrations"
        write_base(folder)
        source = f'"""x"""\n\nparents = ["{BASE_ID}"]\n\nimport sqlalchemy as sa\n\n\n'
        source += "def upgrade(op):\n" + "".join(f"    {line}\n" for line in body.splitlines())
        source += "\n\ndef downgrade(op):\n    pass\n"
        (folder / "20260101T000002_x.py").write_text(source)
        sumfile.write(folder, scan(folder))
        return [f.code for f in lint_folder(folder, backend, None, ["20260101T000002_x"])]


def test_file_level_suppression_covers_every_line() -> None:
    codes = _lint_python(
        '# dbshift: ignore-file[DS101]\nop.drop_table("users")\nop.drop_table("events")'
    )
    assert "DS101" not in codes and "DS609" not in codes


def test_python_lines_point_at_each_call() -> None:
    recorder = Op(source=__file__)
    recorder.drop_table("a")
    line = recorder.lines[0]
    recorder.drop_column(
        "a",
        "b",
    )
    assert recorder.lines == [line, line + 2]


# -- SQL statement shapes --------------------------------------------------------------

names = st.sampled_from(["ix", "ix_users_name", '"Ix Odd"'])
tables = st.sampled_from(["users", "public.users", '"users"'])


@settings(max_examples=60, deadline=None)
@given(
    concurrently=st.booleans(),
    unique=st.booleans(),
    if_not_exists=st.booleans(),
    name=names,
    table=tables,
    upper=st.booleans(),
    space=st.sampled_from([" ", "  ", "\n", "\t"]),
    where=st.booleans(),
)
def test_create_index_shapes(
    concurrently: bool,
    unique: bool,
    if_not_exists: bool,
    name: str,
    table: str,
    upper: bool,
    space: str,
    where: bool,
) -> None:
    words = ["create", "unique" if unique else "", "index"]
    words += ["concurrently" if concurrently else "", "if not exists" if if_not_exists else ""]
    words += [name, "on", table, "(name)", "where name is not null" if where else ""]
    sql = space.join(w for w in words if w)
    sql = sql.upper() if upper else sql
    facts = facts_from_sql(sql, "postgresql")
    assert [f.kind for f in facts] == ["create_index"]
    assert facts[0].concurrently == concurrently and facts[0].unique == unique
    assert facts[0].table is not None and facts[0].table.lower() == "users"
    state = SchemaState({"users": {}, "public.users": {}})
    info = MigrationFacts("m", "m.sql", "sql", not concurrently, tuple((f, 1) for f in facts))
    codes = {f.code for f in check(info, PG, state)}
    assert ("DS301" in codes) == (not concurrently)
    assert "DS303" not in codes


@settings(max_examples=40, deadline=None)
@given(
    verb=st.sampled_from(["DELETE FROM users", "UPDATE users SET name = 'x'"]),
    where=st.sampled_from(["", " WHERE id = 1", " WHERE true", " where name is null"]),
    comment=st.sampled_from(["", "-- note\n", "/* c */ "]),
)
def test_unbounded_dml_needs_no_where(verb: str, where: str, comment: str) -> None:
    facts = facts_from_sql(comment + verb + where + ";", "postgresql")
    assert len(facts) == 1 and facts[0].has_where == bool(where)


# -- context and the API for make/check ------------------------------------------------------


def test_lint_operations_on_a_known_schema() -> None:
    state = SchemaState(
        {"users": {"id": ColumnFact("id", TypeInfo("bigint"), False, primary_key=True)}}
    )
    ops = [CreateIndex("users", Index("ix", ("id",))), DropColumn("users", "id")]
    findings = lint_operations(ops, PG, before=state, lines=[3, 4], migration="m")
    by_code = {f.code: f for f in findings}
    assert by_code["DS301"].line == 3 and by_code["DS102"].line == 4
    assert by_code["DS301"].lock == "SHARE" and by_code["DS102"].lock == "ACCESS EXCLUSIVE"
    concurrent = CreateIndex("users", Index("ix", ("id",)), concurrently=True)
    quiet = lint_operations([concurrent], PG, before=state, transactional=False)
    assert "DS301" not in {f.code for f in quiet}


def test_new_table_in_same_migration_is_not_existing() -> None:
    recorder = Op()
    recorder.create_table("t", sa.Column("id", sa.BigInteger, primary_key=True))
    recorder.create_index("ix_t", "t", ["id"])
    recorder.add_column("t", sa.Column("x", sa.Integer, nullable=False))
    codes = {f.code for f in lint_operations(recorder.operations, PG)}
    assert not codes & {"DS301", "DS203", "DS312"}


def test_unknown_and_unparsable_sql_are_never_silent() -> None:
    assert [f.kind for f in facts_from_sql("CREATE TABLE (", "postgresql")] == ["unparsable"]
    assert [f.kind for f in facts_from_sql("LISTEN jobs", "postgresql")] == ["unknown_sql"]


@pytest.mark.parametrize(
    ("dialect", "sql", "kinds"),
    [
        (
            "postgresql",
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
            ["create_function"],
        ),
        ("postgresql", "DO $$ BEGIN PERFORM 1; END $$", ["unknown_sql"]),
        ("postgresql", "ALTER TABLE users ADD COLUMN IF NOT EXISTS x int", ["add_column"]),
        ("postgresql", "ALTER TABLE ONLY users ALTER COLUMN name SET NOT NULL", ["set_not_null"]),
        ("postgresql", "ALTER TABLE users ALTER COLUMN name DROP DEFAULT", ["drop_default"]),
        ("postgresql", "ALTER TABLE users ALTER COLUMN n TYPE text USING n::text", ["alter_type"]),
        ("postgresql", "INSERT INTO users (id) VALUES (1) ON CONFLICT DO NOTHING", ["insert"]),
        ("postgresql", "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'x' AFTER 'y'", ["add_enum_value"]),
        ("postgresql", "ALTER TABLE users VALIDATE CONSTRAINT ck", ["validate_constraint"]),
        ("postgresql", "SET lock_timeout TO '2s'", ["set"]),
        ("postgresql", "DROP TABLE a, b", ["drop_table", "drop_table"]),
        (
            "mysql",
            "ALTER TABLE users CHANGE name full_name VARCHAR(100)",
            ["rename_column", "alter_type", "drop_not_null", "drop_default"],
        ),
        (
            "mysql",
            "ALTER TABLE users MODIFY score INT DEFAULT 0",
            ["alter_type", "drop_not_null", "set_default"],
        ),
        ("mysql", "ALTER TABLE users DROP CHECK ck", ["drop_constraint"]),
        ("postgresql", "DROP TYPE mood CASCADE", ["drop_enum"]),
        ("postgresql", "DROP DOMAIN IF EXISTS s.d, e CASCADE", ["drop_domain", "drop_domain"]),
        ("postgresql", "DROP EXTENSION IF EXISTS pgcrypto RESTRICT", ["drop_extension"]),
        (
            "postgresql",
            "ALTER TABLE t ALTER COLUMN c DROP EXPRESSION IF EXISTS",
            ["drop_expression"],
        ),
        (
            "postgresql",
            "ALTER TABLE t ALTER id ADD GENERATED BY DEFAULT AS IDENTITY (START 9)",
            ["add_identity"],
        ),
        (
            "postgresql",
            "ALTER TABLE t ALTER COLUMN id SET GENERATED ALWAYS RESTART",
            ["set_identity"],
        ),
        (
            "postgresql",
            "ALTER TABLE t ALTER COLUMN id SET INCREMENT BY 2 RESTART WITH 5",
            ["other_ddl"],
        ),
        ("postgresql", "ALTER TABLE t ALTER COLUMN id DROP IDENTITY IF EXISTS", ["drop_identity"]),
        ("postgresql", "ALTER TABLE t RENAME CONSTRAINT a TO b", ["rename_constraint"]),
        ("postgresql", "ALTER TABLE IF EXISTS t SET SCHEMA archive", ["set_schema"]),
        ("postgresql", "ALTER VIEW s.v RENAME TO w", ["rename_object"]),
        ("postgresql", "ALTER MATERIALIZED VIEW IF EXISTS v SET SCHEMA s", ["set_schema"]),
        ("postgresql", "ALTER FUNCTION f(a int, b text) RENAME TO g", ["rename_object"]),
        ("postgresql", "ALTER PROCEDURE p SET SCHEMA s", ["set_schema"]),
        ("postgresql", "ALTER SEQUENCE IF EXISTS s RENAME TO t", ["rename_object"]),
        ("postgresql", "ALTER SCHEMA a RENAME TO b", ["rename_object"]),
        ("postgresql", "ALTER DOMAIN d RENAME TO e", ["rename_object"]),
        ("postgresql", "ALTER TYPE mood RENAME VALUE 'it''s' TO 'b'", ["rename_enum_value"]),
        ("postgresql", "DROP MATERIALIZED VIEW IF EXISTS v CASCADE", ["drop_object"]),
        ("postgresql", "DROP PROCEDURE p(a int), s.q CASCADE", ["drop_object", "drop_object"]),
        # a word out of place: not understood, never misread
        ("postgresql", "DROP FUNCTION f(int) CASCADE RESTRICT", ["unparsable"]),
        ("postgresql", "ALTER TABLE t ALTER COLUMN id SET GENERATED SOMETIMES", ["unknown_sql"]),
        ("postgresql", "ALTER TABLE t ALTER COLUMN c DROP EXPRESSION CASCADE", ["unknown_sql"]),
        ("postgresql", "ALTER TABLE t ALTER COLUMN id RESTART WITH 5 6", ["unknown_sql"]),
        ("postgresql", "ALTER TABLE t ALTER COLUMN id RESTART WITH -5 SET CACHE 2", ["other_ddl"]),
        ("postgresql", "ALTER TABLE t SET SCHEMA a.b", ["unknown_sql"]),
        ("postgresql", "ALTER SCHEMA a.b RENAME TO c", ["unknown_sql"]),
        ("postgresql", "ALTER SCHEMA a SET SCHEMA c", ["unknown_sql"]),
        ("postgresql", "ALTER INDEX i SET SCHEMA c", ["unknown_sql"]),
        ("postgresql", "ALTER TYPE mood RENAME VALUE 'a' TO 'b' 'c'", ["unknown_sql"]),
        ("postgresql", "ALTER SEQUENCE s RENAME TO t u", ["unknown_sql"]),
        ("postgresql", "DROP EXTENSION s.pgcrypto", ["unknown_sql"]),
        ("postgresql", "DROP DOMAIN d CASCADE RESTRICT", ["unknown_sql"]),
        ("mysql", "ALTER TABLE users ADD COLUMN a INT, ALGORITHM=COPY", ["add_column"]),
        ("sqlite", "PRAGMA foreign_keys = ON", ["other"]),
        ("sqlite", "ALTER TABLE users RENAME TO people", ["rename_table"]),
    ],
)
def test_statement_kinds(dialect: str, sql: str, kinds: list[str]) -> None:
    assert [f.kind for f in facts_from_sql(sql, dialect)] == kinds


# -- suppression comments in SQL ---------------------------------------------------------

SQL_STATEMENTS = ["SELECT 1;", "UPDATE users SET name = 'x' WHERE id = 1;", "ANALYZE users;"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(st.sampled_from(SQL_STATEMENTS), max_size=3),
    after=st.lists(st.sampled_from(SQL_STATEMENTS), max_size=3),
    place=st.sampled_from(["above", "end", "elsewhere"]),
    other=st.integers(min_value=0, max_value=5),
    style=st.sampled_from(
        ["-- dbshift:ignore DS101", "--dbshift: ignore DS101", "-- dbshift:ignore DS101, DS999"]
    ),
    multiline=st.booleans(),
)
def test_sql_suppression_placement(
    before: list[str], after: list[str], place: str, other: int, style: str, multiline: bool
) -> None:
    target = ["DROP", "TABLE users;"] if multiline else ["DROP TABLE users;"]
    lines = [*before, *target, *after]
    start = len(before)
    if place == "above":
        lines.insert(start, style)
    elif place == "end":
        lines[start + len(target) - 1] += f" {style}"
    else:
        if not before and not after:
            return
        outside = [i for i in range(len(lines)) if not start <= i < start + len(target)]
        index = outside[other % len(outside)]
        lines[index] += f" {style}"
    codes, messages = _lint_sql("\n".join(lines))
    if place == "elsewhere":
        assert "DS101" in codes
        assert any("DS101" in m for m in messages)
    else:
        assert "DS101" not in codes
        assert not any("of DS101" in m for m in messages)
    if "DS999" in style:
        assert any("DS999 (no such rule)" in m for m in messages)


def _lint_sql(up: str) -> tuple[list[str], list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "migrations"
        write_base(folder)
        text = f"-- x\n-- parents: {BASE_ID}\n\n-- dbshift:up\n{up}\n-- dbshift:down\nSELECT 1;\n"
        (folder / "20260101T000002_x.sql").write_text(text)
        sumfile.write(folder, scan(folder))
        findings = lint_folder(folder, "postgresql", None, ["20260101T000002_x"])
        return [f.code for f in findings], [f.message for f in findings if f.code == "DS609"]


def test_mysql_alter_shapes() -> None:
    kinds = [f.kind for f in facts_from_sql("ALTER TABLE users ADD INDEX ix_a (a)", "mysql")]
    assert kinds == ["create_index"]
    assert [f.kind for f in facts_from_sql("ALTER TABLE users DROP PRIMARY KEY", "mysql")] == [
        "drop_primary_key"
    ]
