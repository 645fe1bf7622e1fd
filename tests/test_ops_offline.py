"""Offline SQL: every operation renders the statement its dialect expects, with no database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dbshift.dialects import dialect_for
from dbshift.dialects.base import plain_index_sql, stub_table
from dbshift.errors import IrreversibleMigration, MigrationError
from dbshift.ops.context import OfflineContext, render_statement
from dbshift.schema.snapshot import Index, Snapshot, index_to_sqlalchemy
from tests.test_ops import record

SETUP = """
op.create_table("t", sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", sa.String(40)))
op.create_table(
    "u",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("t_id", sa.Integer),
    sa.Column("n", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(["t_id"], ["t.id"], name="fk_u_t"),
    sa.UniqueConstraint("n", name="uq_n"),
    sa.CheckConstraint("n > 0", name="ck_n"),
)
"""


def rendered(dialect_name: str, step: str) -> list[str]:
    dialect = sa.make_url(f"{dialect_name}://").get_dialect()()
    ctx = OfflineContext(dialect, Snapshot())
    for operation in record(SETUP):
        ctx.run(operation)
    ctx.take()
    for operation in record(step):
        ctx.run(operation)
    return [" ".join(s.split()) for s in ctx.take()]


CASES = [
    ("*", 'op.add_column("t", sa.Column("x", sa.Integer))', "ALTER TABLE t ADD COLUMN x INTEGER"),
    ("*", 'op.drop_column("t", "v")', "ALTER TABLE t DROP COLUMN v"),
    ("*", 'op.rename_column("t", "v", "w")', "ALTER TABLE t RENAME COLUMN v TO w"),
    ("*", 'op.rename_table("t", "t2")', "ALTER TABLE t RENAME TO t2"),
    ("*", 'op.drop_table("u")', "DROP TABLE u"),
    ("*", 'op.create_index("ix_v", "t", ["v"])', "CREATE INDEX ix_v ON t (v)"),
    ("postgresql", 'op.drop_index("ix_v", "t")', "DROP INDEX ix_v"),
    ("mysql", 'op.drop_index("ix_v", "t")', "DROP INDEX ix_v ON t"),
    (
        "postgresql",
        'op.alter_column("t", "v", nullable=False)',
        "ALTER TABLE t ALTER COLUMN v SET NOT NULL",
    ),
    (
        "postgresql",
        'op.alter_column("t", "v", type_=sa.Integer(), postgresql_using="v::integer")',
        "ALTER TABLE t ALTER COLUMN v TYPE INTEGER USING v::integer",
    ),
    (
        "postgresql",
        'op.alter_column("t", "v", server_default="x")',
        "ALTER TABLE t ALTER COLUMN v SET DEFAULT 'x'",
    ),
    (
        "postgresql",
        'op.alter_column("t", "v", server_default=None)',
        "ALTER TABLE t ALTER COLUMN v DROP DEFAULT",
    ),
    ("postgresql", 'op.alter_column("t", "v", comment="c")', "COMMENT ON COLUMN t.v IS 'c'"),
    ("postgresql", 'op.create_table_comment("t", "it\'s")', "COMMENT ON TABLE t IS 'it''s'"),
    ("mysql", 'op.create_table_comment("t", "c")', "ALTER TABLE t COMMENT 'c'"),
    (
        "mysql",
        'op.alter_column("t", "v", nullable=False)',
        "ALTER TABLE t MODIFY COLUMN v VARCHAR(40) NOT NULL",
    ),
    (
        "mysql",
        'op.alter_column("t", "v", server_default="x", comment="c")',
        "ALTER TABLE t MODIFY COLUMN v VARCHAR(40) COMMENT 'c' DEFAULT 'x'",
    ),
    (
        "mysql",
        'op.alter_column("t", "v", new_column_name="w")',
        "ALTER TABLE t RENAME COLUMN v TO w",
    ),
    (
        "mysql",
        'op.drop_constraint("fk_u_t", "u", type_="foreignkey")',
        "ALTER TABLE u DROP FOREIGN KEY fk_u_t",
    ),
    ("mysql", 'op.drop_constraint("uq_n", "u", type_="unique")', "ALTER TABLE u DROP INDEX uq_n"),
    ("mysql", 'op.drop_constraint("ck_n", "u", type_="check")', "ALTER TABLE u DROP CHECK ck_n"),
    ("mariadb", 'op.drop_constraint("ck_n", "u")', "ALTER TABLE u DROP CONSTRAINT ck_n"),
    ("mysql", 'op.drop_constraint("pk", "u", type_="primary")', "ALTER TABLE u DROP PRIMARY KEY"),
    ("postgresql", 'op.drop_constraint("uq_n", "u")', "ALTER TABLE u DROP CONSTRAINT uq_n"),
    (
        "postgresql",
        'op.create_foreign_key("fk", "u", "t", ["n"], ["id"], ondelete="CASCADE")',
        "ALTER TABLE u ADD CONSTRAINT fk FOREIGN KEY(n) REFERENCES t (id) ON DELETE CASCADE",
    ),
    (
        "postgresql",
        'op.create_check_constraint("ck", "t", "id > 0")',
        "ALTER TABLE t ADD CONSTRAINT ck CHECK (id > 0)",
    ),
    (
        "postgresql",
        'op.create_primary_key("pk", "t", ["v"])',
        "ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY (v)",
    ),
    (
        "postgresql",
        'op.create_unique_constraint("uq", "t", ["v"])',
        "ALTER TABLE t ADD CONSTRAINT uq UNIQUE (v)",
    ),
    (
        "postgresql",
        'op.create_index("ix", "t", ["v"], postgresql_concurrently=True)',
        "CREATE INDEX CONCURRENTLY ix ON t (v)",
    ),
    ("*", 'op.execute("UPDATE t SET v = :x", {"x": "it\'s"})', "UPDATE t SET v = 'it''s'"),
    (
        "*",
        'op.bulk_insert(sa.table("t", sa.column("id"), sa.column("v")), [{"id": 1, "v": "a"}])',
        "INSERT INTO t (id, v) VALUES (1, 'a')",
    ),
]


@pytest.mark.parametrize(
    ("dialect_name", "step", "expected"), CASES, ids=[c[1][3:40] for c in CASES]
)
def test_rendering(dialect_name: str, step: str, expected: str) -> None:
    for name in ("sqlite", "postgresql", "mysql") if dialect_name == "*" else (dialect_name,):
        assert expected in rendered(name, step), name


@pytest.mark.parametrize(
    "step",
    [
        'op.alter_column("t", "v", nullable=False)',
        'op.create_unique_constraint("uq", "t", ["v"])',
        'op.drop_constraint("ck_n", "u")',
        'op.create_foreign_key("fk", "u", "t", ["n"], ["id"])',
        'op.drop_column("u", "n")',  # used by a unique constraint and a check
    ],
)
def test_sqlite_renders_a_rebuild(step: str) -> None:
    statements = rendered("sqlite", step)
    assert statements[0] == "PRAGMA defer_foreign_keys = ON"
    assert any(s.startswith("CREATE TEMPORARY TABLE") for s in statements)


def test_sqlite_comments_render_nothing() -> None:
    assert rendered("sqlite", 'op.create_table_comment("t", "c")') == []
    assert rendered("sqlite", 'op.alter_column("t", "v", comment="c")') == []


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql", "mysql"])
def test_hostile_names_are_quoted_offline(dialect_name: str) -> None:
    table = 'x"; DROP TABLE y; --'
    step = f"op.create_table({table!r}, sa.Column('we`ird', sa.Integer))\nop.drop_table({table!r})"
    statements = rendered(dialect_name, step)
    assert len(statements) == 2
    dialect = sa.make_url(f"{dialect_name}://").get_dialect()()
    quoted = dialect.identifier_preparer.quote(table)
    assert statements[-1] == f"DROP TABLE {quoted}"
    assert dialect.identifier_preparer.quote("we`ird") in statements[0]


def test_run_python_needs_a_connection() -> None:
    with pytest.raises(MigrationError, match="needs a database connection"):
        rendered("postgresql", "op.run(print)")


def test_render_statement_inlines_values() -> None:
    dialect = sa.make_url("postgresql://").get_dialect()()
    t = sa.table("t", sa.column("v"))
    assert (
        render_statement(sa.delete(t).where(t.c.v == "a"), dialect)
        == "DELETE FROM t WHERE t.v = 'a'"
    )
    assert render_statement("SELECT :x", dialect, {"x": 1}) == "SELECT 1"
    assert render_statement("SELECT '%:x'", dialect) == "SELECT '%:x'"


def test_descriptions_are_short_quoted_lines() -> None:
    described = [o.describe() for o in record(SETUP + DESCRIBED)]
    assert described == [
        'create table "t"',
        'create table "u"',
        'add column "t"."email"',
        'drop column "t"."v"',
        'alter column "u"."n": null',
        'rename column "u"."n" to "m"',
        'create unique index "ix" on "t"',
        'drop index "ix" on "t"',
        'add foreign key "fk" to "u"',
        'drop constraint "fk" from "u"',
        'rename table "t" to "t2"',
        'set comment on table "t2"',
        'drop table "odd""\\nname"',
        "execute DELETE FROM t2",
        'insert 1 row(s) into "t2"',
        "run print()",
    ]


DESCRIBED = """
op.add_column("t", sa.Column("email", sa.String(200)))
op.drop_column("t", "v")
op.alter_column("u", "n", nullable=True, new_column_name="m")
op.create_index("ix", "t", ["id"], unique=True)
op.drop_index("ix", "t")
op.create_foreign_key("fk", "u", "t", ["t_id"], ["id"])
op.drop_constraint("fk", "u")
op.rename_table("t", "t2")
op.create_table_comment("t2", "c")
op.drop_table('odd"\\nname')
op.execute("DELETE   FROM t2")
op.bulk_insert(sa.table("t2", sa.column("id")), [{"id": 1}])
op.run(print)
"""


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ('op.drop_column("ghost", "x")', 'drop column "ghost"."x": its definition is unknown'),
        ('op.drop_table("ghost")', 'drop table "ghost": its definition is unknown'),
        ('op.drop_index("ix", "ghost")', 'drop index "ix" on "ghost": its definition is unknown'),
        ('op.drop_constraint("c", "ghost")', 'drop constraint "c" from "ghost": its definition'),
        ('op.alter_column("ghost", "x", nullable=True)', 'alter column "ghost"."x": its previous'),
        ('op.execute("DELETE FROM t")', "raw SQL `DELETE FROM t`"),
        ("op.run(print)", "Python function print()"),
        ('op.bulk_insert(sa.table("t"), [{}])', 'bulk insert into "t"'),
        ('op.create_unique_constraint(None, "t", ["v"])', "the constraint has no name"),
    ],
)
def test_what_cannot_be_reversed_says_why(step: str, message: str) -> None:
    (operation,) = record(step)
    with pytest.raises(IrreversibleMigration) as raised:
        operation.reverse(Snapshot())
    assert message in raised.value.message and "\n" not in raised.value.message
    assert raised.value.hint


PLAIN_NAMES = [
    ("ix_v", "t", ("v",)),
    ("ix_two", "t", ("a", "b")),
    ("IX_Mixed", "Order", ("Name", "select")),  # capitals and reserved words are quoted
    ("ix space", "my table", ("my col",)),
    ('ix"q', 't"q', ('c"q', "c`b")),  # the quote characters themselves, escaped
    ("ix_" + "x" * 60, "t", ("v",)),  # at and past the backends' identifier limits
    ("ix_" + "y" * 70, "t", ("v",)),
]


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql", "mysql", "mariadb"])
@pytest.mark.parametrize(("name", "table", "columns"), PLAIN_NAMES)
@pytest.mark.parametrize("unique", [False, True])
@pytest.mark.parametrize("if_not_exists", [False, True])
def test_plain_index_sql_is_what_sqlalchemy_compiles(
    dialect_name: str,
    name: str,
    table: str,
    columns: tuple[str, ...],
    unique: bool,
    if_not_exists: bool,
) -> None:
    """The plain `CREATE INDEX` written without a stub table (issue 14) is, character for
    character, what SQLAlchemy compiles through the stub, or fails the same way."""

    dialect = sa.make_url(f"{dialect_name}://").get_dialect()()
    assert dialect_for(dialect).plain_indexes
    index = Index(name, columns, unique)
    statement = sa.schema.CreateIndex(
        index_to_sqlalchemy(index, stub_table(table, None, columns)), if_not_exists=if_not_exists
    )
    try:
        expected = str(statement.compile(dialect=dialect))
    except sa.exc.SQLAlchemyError as error:
        with pytest.raises(type(error)):
            plain_index_sql(dialect, index, table, None, if_not_exists)
        return
    assert plain_index_sql(dialect, index, table, None, if_not_exists) == expected


@pytest.mark.parametrize(
    "index",
    [
        ("ix", ("lower(v)",), False, (), ("lower(v)",)),  # an expression
        ("ix", ("v",), False, (("postgresql_where", "v > 0"),), ()),  # a dialect option
        ("ix", ("v%",), False, (), ()),  # a % the compiled text would double
        ("ix", ("v", "v"), False, (), ()),  # a column twice: SQLAlchemy's error
    ],
)
def test_plain_index_sql_leaves_the_rest_to_sqlalchemy(index: tuple[object, ...]) -> None:

    dialect = sa.make_url("postgresql://").get_dialect()()
    assert plain_index_sql(dialect, Index(*index), "t", None, False) is None  # type: ignore[arg-type]
    assert plain_index_sql(dialect, Index("ix", ("v",)), "t", "s", False) is None  # a schema
